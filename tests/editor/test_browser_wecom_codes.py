"""Channel codes in a real Chromium: after a WeCom sync (against the fake WeCom on loopback), an
operator makes a group's join code from the group page and sees its QR image; no script error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_kit import chromium, operator_page
from browser_server import chromium_missing, running_server, save_screenshot

from qunflow.editor.services import Services
from qunflow.engine.connectors.wecom.connector import WecomConnector
from qunflow.engine.connectors.wecom.fake import FakeWecom

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

if chromium_missing() is None:
    from playwright.sync_api import Page, expect


@pytest.fixture
def fake() -> Iterator[FakeWecom]:
    with FakeWecom() as fake:
        fake.add_customer("wm-1", "zhangsan", name="王小明")
        fake.add_group("wr-1", "zhangsan", name="福利群", members=["wm-1"])
        yield fake


@pytest.fixture
def page(tmp_path: Path, fake: FakeWecom) -> Iterator[Page]:
    database = tmp_path / "qunflow.db"
    services = Services.open(f"sqlite:///{database}")
    services.store.migrate()
    options = {
        "corp_id": fake.corp_id,
        "secret": fake.secret,
        "agent_id": fake.agent_id,
        "token": "callback-token",
        "encoding_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "api_base": fake.url,
    }
    services.connectors.configure("wecom", options, services.connector_context(), 0)
    connector = WecomConnector.open(services.connectors.options("wecom"), services.connector_context())  # type: ignore[arg-type]
    connector.sync()
    connector.close()
    services.close()
    with (
        running_server(database) as base_url,
        chromium() as browser,
        operator_page(browser, base_url, next_path="/groups/wr-1", height=900) as page,
    ):
        yield page


def test_an_operator_makes_a_groups_join_code_and_sees_it(page: Page, fake: FakeWecom) -> None:
    page.get_by_role("button", name="生成入群二维码").click()
    qr = page.locator("#qf-join-way img.qf-qr")
    expect(qr).to_be_visible()
    assert (qr.get_attribute("src") or "").startswith("https://wecom.fake/join/")
    save_screenshot(page, "group-join-code")
    page.reload()
    expect(page.locator("#qf-join-way img.qf-qr")).to_have_count(1)
    assert len(fake.calls_to("externalcontact/groupchat/add_join_way")) == 1
