"""Group and tag callbacks sync through the WeCom connector's own hooks (`callback_sync_group`,
`callback_sync_tags`), after the answer: a callback from the fake WeCom, over HTTP on loopback, to a
running server whose WeCom connector calls the fake back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import wecom_xml as x
from test_wecom_callback import serving

from qunflow.editor.services import Services
from qunflow.engine import Registry, SimClock, Store
from qunflow.engine.connectors.wecom.fake import FakeWecom

TOKEN = "callback-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture
def fake() -> Iterator[FakeWecom]:
    with FakeWecom() as fake:
        fake.add_customer("wm-1", "zhangsan", name="王小明")
        yield fake


@pytest.fixture
def base(
    store_url: str, registry: Registry, clock: SimClock, fake: FakeWecom
) -> Iterator[tuple[str, Services]]:
    store = Store.open(store_url)
    store.migrate()
    services = Services(store, registry, clock)
    options = {
        "corp_id": fake.corp_id,
        "secret": fake.secret,
        "agent_id": fake.agent_id,
        "token": TOKEN,
        "encoding_aes_key": AES_KEY,
        "api_base": fake.url,
    }
    services.connectors.configure("wecom", options, services.connector_context(), services.now_us())
    try:
        for url in serving(services, None):  # type: ignore[arg-type]  # the connector's own hooks
            yield url, services
    finally:
        services.close()


def eventually(check: Callable[[], bool]) -> bool:
    """The syncs run after the answer: wait for one (bounded), not a measure of speed."""
    for _ in range(300):
        if check():
            return True
        time.sleep(0.05)
    return False


def test_a_group_create_callback_syncs_the_group_and_a_tag_callback_the_tag_library(
    base: tuple[str, Services], fake: FakeWecom
) -> None:
    url, services = base
    fake.add_group("wr-9", "zhangsan", name="新品群", members=["wm-1"])

    status = fake.post_callback(f"{url}/wecom/callback", x.chat("create", chat_id="wr-9"), TOKEN, AES_KEY)

    assert status == 200
    store = services.store
    assert eventually(lambda: store.group_names(["wr-9"]).get("wr-9") == "新品群")
    assert store.get_group("wr-9")["owner"] == "zhangsan"

    fake.tag_groups.append({"group_id": "g1", "group_name": "兴趣", "tag": [{"id": "et-1", "name": "烘焙"}]})
    assert fake.post_callback(f"{url}/wecom/callback", x.tag_change(), TOKEN, AES_KEY) == 200
    assert eventually(lambda: "烘焙" in {r.name for r in store.list_tags()})
