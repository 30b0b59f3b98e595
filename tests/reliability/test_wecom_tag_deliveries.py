"""Member tag changes as `tag` deliveries (DESIGN §19): written only while `tag` is routed to a
connector that syncs tags, and through the WeCom connector they reach the fake WeCom's `mark_tag`
with corp tag ids (tags the corp lacks made first)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import msgspec
import pytest
from cryptography.fernet import Fernet
from documents import flow, node
from wecom_kit import options_for

from qunflow.engine import Engine, Event, SimClock, Store
from qunflow.engine.connectors import ConnectorContext, ConnectorSettings
from qunflow.engine.connectors.wecom.client import WecomApi
from qunflow.engine.connectors.wecom.connector import WecomConnector
from qunflow.engine.connectors.wecom.fake import FakeWecom
from qunflow.engine.member import Member
from qunflow.engine.outbox import Dispatcher
from qunflow.engine.vault import Vault


@pytest.fixture
def fake(clock: SimClock) -> Iterator[FakeWecom]:
    with FakeWecom(clock=lambda: clock.now().timestamp()) as fake:
        fake.add_customer("wm-1", "zhangsan")
        fake.tag_groups.append(
            {"group_id": "g1", "group_name": "等级", "tag": [{"id": "et-old", "name": "老客"}]}
        )
        fake.customers["wm-1"]["follow"]["zhangsan"]["tags"].add("et-old")
        yield fake


@pytest.fixture
def settings(store: Store, fake: FakeWecom, clock: SimClock) -> ConnectorSettings:
    made = ConnectorSettings(store, Vault(Fernet.generate_key()))
    options = msgspec.to_builtins(options_for(fake))
    made.configure("wecom", options, ConnectorContext(store, clock), 0)
    return made


@pytest.fixture
def engine(store: Store, clock: SimClock) -> Engine:
    made = Engine(store, clock=clock)
    made.deploy(
        flow(
            "vip",
            [
                node("t", "trigger.purchase"),
                node("add", "action.add_tag", tags=["VIP"]),
                node("drop", "action.remove_tag", tags=["老客"]),
            ],
            [("t", "add"), ("add", "drop")],
            settings={"reentry": "always"},
        )
    )
    member = Member("wm-1", tags=["老客"], staff="zhangsan", first_seen=0, is_new=True)
    store.put_members([member])
    return made


def buy(engine: Engine, clock: SimClock, n: int) -> None:
    engine.ingest([Event(f"p-{n}", "purchase", clock.now(), member="wm-1", data={"amount": 10})])


def tag_rows(store: Store) -> list[dict]:
    return [r for r in store.deliveries() if r["kind"] == "tag"]


def test_no_tag_deliveries_while_tag_is_not_routed_or_routed_to_recording(
    engine: Engine, store: Store, clock: SimClock, settings: ConnectorSettings
) -> None:
    buy(engine, clock, 1)
    settings.set_routes({"tag": "recording"})
    clock.advance_to(clock.now() + timedelta(minutes=1))
    buy(engine, clock, 2)
    assert tag_rows(store) == []


def test_tag_changes_reach_mark_tag_with_corp_tag_ids(
    engine: Engine, store: Store, clock: SimClock, settings: ConnectorSettings, fake: FakeWecom
) -> None:
    settings.set_routes({"tag": "wecom"})
    buy(engine, clock, 1)
    rows = tag_rows(store)
    assert len(rows) == 1
    assert rows[0]["payload"] == {"add": ["VIP"], "remove": ["老客"]}
    assert (rows[0]["flow"], rows[0]["member"]) == ("vip", "wm-1"), rows[0]

    api = WecomApi(fake.corp_id, fake.secret, fake.url, sleep=lambda _: None)
    connector = WecomConnector(options_for(fake), ConnectorContext(store, clock), api=api)
    try:
        Dispatcher(store, connector, clock=clock).drain()
    finally:
        connector.close()
    assert tag_rows(store)[0]["status"] == "sent"
    (call,) = fake.calls_to("externalcontact/mark_tag")
    vip = next(t["id"] for g in fake.tag_groups if g["group_name"] == "qunflow" for t in g["tag"])
    assert call.body == {
        "userid": "zhangsan",
        "external_userid": "wm-1",
        "add_tag": [vip],
        "remove_tag": ["et-old"],
    }
    assert fake.customers["wm-1"]["follow"]["zhangsan"]["tags"] == {vip}


def test_a_step_that_changes_nothing_writes_no_tag_delivery(
    engine: Engine, store: Store, clock: SimClock, settings: ConnectorSettings
) -> None:
    settings.set_routes({"tag": "wecom"})
    buy(engine, clock, 1)
    clock.advance_to(clock.now() + timedelta(minutes=1))
    buy(engine, clock, 2)  # VIP is there and 老客 gone already
    assert len(tag_rows(store)) == 1


def test_a_persons_bulk_edit_writes_a_tag_delivery_of_no_flow(
    engine: Engine, store: Store, clock: SimClock, settings: ConnectorSettings
) -> None:
    settings.set_routes({"tag": "wecom"})
    edit = {"add_tags": ["高意向"], "by": "admin"}
    engine.ingest([Event("edit-1", "member_edited", clock.now(), member="wm-1", data=edit)])
    (row,) = tag_rows(store)
    assert (row["flow"], row["node"], row["payload"]) == ("", "tags", {"add": ["高意向"], "remove": []})
