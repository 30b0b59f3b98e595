"""同步 for the WeCom connector: `POST /api/connectors/wecom/sync`, the button on the connectors page
and `qunflow wecom sync`, against the fake WeCom over loopback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import bearer
from litestar import Litestar
from litestar.testing import TestClient

from qunflow.editor.app import create_app
from qunflow.editor.services import Services
from qunflow.engine import Registry, SimClock, Store
from qunflow.engine.connectors.wecom.fake import FakeWecom

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture
def fake() -> Iterator[FakeWecom]:
    with FakeWecom() as fake:
        fake.add_staff("zhangsan", "张三")
        fake.add_customer("wm-1", "zhangsan", name="王小明")
        fake.add_group("wr-1", "zhangsan", name="福利群", members=["wm-1"])
        yield fake


@pytest.fixture
def services(store_url: str, registry: Registry, clock: SimClock) -> Iterator[Services]:
    services = Services(Store.open(store_url), registry, clock)
    yield services
    services.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(services, worker=False)) as client:
        yield client


@pytest.fixture
def admin(services: Services) -> dict[str, str]:
    return bearer(services.accounts.create_token("admin", services.now_us())[1])


def options(fake: FakeWecom) -> dict:
    return {
        "corp_id": fake.corp_id,
        "secret": fake.secret,
        "agent_id": fake.agent_id,
        "token": "callback-token",
        "encoding_aes_key": AES_KEY,
        "api_base": fake.url,
    }


def configure(client: TestClient[Litestar], admin: dict[str, str], fake: FakeWecom) -> None:
    answer = client.put("/api/connectors/wecom", json=options(fake), headers=admin)
    assert answer.status_code == 200, answer.text


def test_the_sync_api_answers_what_was_synced(
    client: TestClient[Litestar], admin: dict[str, str], fake: FakeWecom, services: Services
) -> None:
    configure(client, admin, fake)
    answer = client.post("/api/connectors/wecom/sync", headers=admin)

    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["ok"] is True
    assert "staff: 1 (员工)" in found["lines"] and "groups: 1 (客户群)" in found["lines"]
    assert services.store.get_group("wr-1")["name"] == "福利群"
    assert [s.name for s in services.store.list_staff()] == ["张三"]


def test_the_sync_is_for_admins_and_needs_a_configured_connector(
    client: TestClient[Litestar], admin: dict[str, str], services: Services
) -> None:
    unconfigured = client.post("/api/connectors/wecom/sync", headers=admin)
    assert unconfigured.status_code in (400, 422) and "wecom" in unconfigured.text
    nothing = client.post("/api/connectors/recording/sync", headers=admin)
    assert nothing.status_code in (400, 422) and "同步" in nothing.text
    operator = bearer(services.accounts.create_token("operator", services.now_us())[1])
    assert client.post("/api/connectors/wecom/sync", headers=operator).status_code == 403


def test_wecom_unreachable_is_said_not_raised(
    client: TestClient[Litestar], admin: dict[str, str], fake: FakeWecom
) -> None:
    configure(client, admin, fake)
    fake.fail_next("externalcontact/groupchat/list", 60020, "not allow to access from your ip")
    found = client.post("/api/connectors/wecom/sync", headers=admin).json()
    assert found["ok"] is False and "60020" in found["message"]


def test_the_connectors_page_has_a_sync_button_that_shows_what_was_synced(
    client: TestClient[Litestar], admin: dict[str, str], fake: FakeWecom, sign_in
) -> None:
    configure(client, admin, fake)
    csrf = sign_in("admin")
    page = client.get("/admin/connectors").text
    assert 'action="/admin/connectors/wecom/sync"' in page and ">同步<" in page
    assert 'action="/admin/connectors/webhook/sync"' not in page

    answer = client.post("/admin/connectors/wecom/sync", data={"_csrf": csrf})

    assert answer.status_code == 200, answer.text
    assert 'id="connector-wecom-synced"' in answer.text and "members: 1 (客户)" in answer.text


# -- the command line ------------------------------------------------------------------------------


def qunflow(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "qunflow.editor.cli", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_cli_prints_one_line_per_kind_and_exits_1_in_one_line_on_error(
    tmp_path: Path, fake: FakeWecom
) -> None:
    database = f"sqlite:///{tmp_path / 'q.db'}"
    not_configured = qunflow("wecom", "sync", "--db", database, cwd=tmp_path)
    assert not_configured.returncode == 1
    assert not_configured.stdout == "" and len(not_configured.stderr.strip().splitlines()) == 1
    assert "not configured" in not_configured.stderr

    services = Services.open(database)
    try:
        services.connectors.configure("wecom", options(fake), services.connector_context(), 0)
    finally:
        services.close()
    done = qunflow("wecom", "sync", "--db", database, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "staff: 1 (员工)",
        "members: 1 (客户)",
        "groups: 1 (客户群)",
        "tags: 0 from WeCom, 0 to WeCom (标签库)",
        "recovered events: 0 member_joined, 0 member_left (补回的入群/退群)",
    ]

    fake.fail_next("gettoken", 40001, "invalid credential")
    refused = qunflow("wecom", "sync", "--db", database, cwd=tmp_path)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "40001" in refused.stderr


# -- channel codes ---------------------------------------------------------------------------------


def test_a_channel_code_is_made_once_and_shown_on_the_connectors_page(
    client: TestClient[Litestar], admin: dict[str, str], fake: FakeWecom, sign_in
) -> None:
    configure(client, admin, fake)
    first = client.post("/api/channels/poster-1/contact-way", json={"staff": ["zhangsan"]}, headers=admin)
    again = client.post("/api/channels/poster-1/contact-way", json={"staff": ["zhangsan"]}, headers=admin)

    assert first.status_code == 200, first.text
    assert first.json()["qr_code"].startswith("https://wecom.fake/contact/")
    assert again.json() == first.json()
    (call,) = fake.calls_to("externalcontact/add_contact_way")
    assert (call.body["state"], call.body["user"]) == ("poster-1", ["zhangsan"])

    too_long = client.post(
        "/api/channels/" + "c" * 31 + "/contact-way", json={"staff": ["zhangsan"]}, headers=admin
    )
    assert too_long.status_code in (400, 422) and "channel" in too_long.text
    no_staff = client.post("/api/channels/poster-2/contact-way", json={"staff": []}, headers=admin)
    assert no_staff.status_code in (400, 422) and "staff" in no_staff.text

    csrf = sign_in("admin")
    made = client.post(
        "/admin/connectors/wecom/contact-way",
        data={"_csrf": csrf, "channel": "poster-3", "staff": "zhangsan"},
    )
    assert made.status_code == 200, made.text  # back on the connectors page
    assert f'src="{first.json()["qr_code"]}"' in made.text and "poster-3" in made.text
    assert len(fake.calls_to("externalcontact/add_contact_way")) == 2


def test_a_groups_join_code_is_made_once_and_shown_on_the_group_page(
    client: TestClient[Litestar], admin: dict[str, str], fake: FakeWecom, sign_in
) -> None:
    configure(client, admin, fake)
    assert client.post("/api/groups/wr-1/join-way", headers=admin).status_code == 404  # not synced yet
    client.post("/api/connectors/wecom/sync", headers=admin)

    first = client.post("/api/groups/wr-1/join-way", headers=admin)
    again = client.post("/api/groups/wr-1/join-way", headers=admin)
    assert first.status_code == 200, first.text
    assert first.json()["qr_code"].startswith("https://wecom.fake/join/") and again.json() == first.json()
    assert len(fake.calls_to("externalcontact/groupchat/add_join_way")) == 1

    sign_in("admin")
    page = client.get("/groups/wr-1").text
    assert f'src="{first.json()["qr_code"]}"' in page and "入群二维码" in page


def test_the_group_page_makes_the_join_code_with_its_button(
    client: TestClient[Litestar], admin: dict[str, str], fake: FakeWecom, sign_in
) -> None:
    configure(client, admin, fake)
    client.post("/api/connectors/wecom/sync", headers=admin)
    csrf = sign_in("operator")
    page = client.get("/groups/wr-1").text
    assert 'action="/groups/wr-1/join-way"' in page

    answer = client.post("/groups/wr-1/join-way", data={"_csrf": csrf})

    assert answer.status_code == 200, answer.text
    assert 'class="qf-qr" src="https://wecom.fake/join/' in answer.text
