"""The WeCom sync against the fake WeCom over HTTP on loopback, on the real store: staff, customers
(owner staff, corp tags by name), groups with their members, the tag library both ways, and joins and
leaves that no callback told of, recovered as events exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from wecom_kit import options_for

from qunflow.engine import Engine, SimClock, Store
from qunflow.engine.connectors import ConnectorContext
from qunflow.engine.connectors.wecom.client import WecomApi
from qunflow.engine.connectors.wecom.connector import WecomConnector
from qunflow.engine.connectors.wecom.fake import FakeWecom
from qunflow.engine.connectors.wecom.sync import claim_hourly
from qunflow.engine.member import TagRecord
from qunflow.engine.store import schema as t


@pytest.fixture
def fake(clock: SimClock) -> Iterator[FakeWecom]:
    with FakeWecom(clock=lambda: clock.now().timestamp()) as fake:
        fake.add_staff("zhangsan", "张三")
        fake.add_staff("lisi", "李四")
        fake.add_customer("wm-1", "zhangsan", name="王小明")
        fake.add_customer("wm-2", "lisi", name="赵小红")
        fake.tag_groups.append(
            {"group_id": "g1", "group_name": "客户等级", "tag": [{"id": "et-vip", "name": "VIP"}]}
        )
        fake.customers["wm-1"]["follow"]["zhangsan"]["tags"].add("et-vip")
        fake.add_group("wr-1", "zhangsan", name="福利群", members=["wm-1", "wm-2"])
        yield fake


@pytest.fixture
def engine(store: Store, clock: SimClock) -> Engine:
    return Engine(store, clock=clock)


@pytest.fixture
def connector(fake: FakeWecom, store: Store, clock: SimClock, engine: Engine) -> Iterator[WecomConnector]:
    api = WecomApi(fake.corp_id, fake.secret, fake.url, sleep=lambda _: None)
    made = WecomConnector(options_for(fake), ConnectorContext(store, clock, engine.ingest), api=api)
    yield made
    made.close()


def members(store: Store) -> dict:
    with store.engine.connect() as conn:
        return store.load_members(conn, ["wm-1", "wm-2", "wm-3"])


def events(store: Store) -> list[tuple[str, str | None, str | None, str]]:
    c = t.events.c
    with store.engine.connect() as conn:
        rows = conn.execute(select(c.type, c.member_id, c.group_id, c.data).order_by(c.seq)).all()
    return [tuple(r) for r in rows]


def test_sync_imports_staff_members_groups_and_tags(
    connector: WecomConnector, store: Store, fake: FakeWecom
) -> None:
    store.put_tags([TagRecord("高意向", "behaviour")])
    result = connector.sync()

    assert (result.staff, result.members, result.groups) == (2, 2, 1)
    assert {s.id: s.name for s in store.list_staff()} == {"lisi": "李四", "zhangsan": "张三"}
    found = members(store)
    assert (found["wm-1"].name, found["wm-1"].staff, found["wm-1"].tags) == ("王小明", "zhangsan", ["VIP"])
    assert (found["wm-2"].name, found["wm-2"].staff, found["wm-2"].tags) == ("赵小红", "lisi", [])
    assert found["wm-1"].groups == ["wr-1"] and found["wm-2"].groups == ["wr-1"]
    group = store.get_group("wr-1")
    assert (group["name"], group["owner"], group["members"]) == ("福利群", "zhangsan", 2)
    # Tags both ways: the corp's VIP came into the library; the library's 高意向 was made in WeCom.
    assert {r.name for r in store.list_tags()} == {"VIP", "高意向"}
    made = [g for g in fake.tag_groups if g["group_name"] == "qunflow"]
    assert [tag["name"] for tag in made[0]["tag"]] == ["高意向"]
    assert (result.tags_in, result.tags_out) == (1, 1)
    # A first import of a group is not a wave of joins.
    assert events(store) == []


def test_lost_joins_and_leaves_are_recovered_once_across_two_syncs(
    connector: WecomConnector, store: Store, fake: FakeWecom, clock: SimClock
) -> None:
    connector.sync()
    fake.add_customer("wm-3", "zhangsan", name="新成员")
    fake.groups["wr-1"]["members"] = ["wm-1", "wm-3"]  # wm-3 joined, wm-2 left: no callback came
    first = connector.sync()
    clock.advance_to(clock.now() + timedelta(minutes=5))
    second = connector.sync()

    assert (first.joined, first.left) == (1, 1)
    assert (second.joined, second.left) == (0, 0)
    found = events(store)
    assert [(e[0], e[1], e[2]) for e in found] == [
        ("member_joined", "wm-3", "wr-1"),
        ("member_left", "wm-2", "wr-1"),
    ]
    assert all('"recovered":true' in e[3] for e in found)
    assert members(store)["wm-3"].groups == ["wr-1"] and members(store)["wm-2"].groups == []
    assert store.get_group("wr-1")["members"] == 2


def test_the_same_recovered_events_from_two_processes_are_taken_once(
    connector: WecomConnector, store: Store, fake: FakeWecom, clock: SimClock
) -> None:
    connector.sync()
    fake.groups["wr-1"]["members"] = ["wm-1"]
    sync = connector.syncer()
    now = clock.now()
    # Two processes see the same difference in the same hour: the events have the same ids.
    made = sync.recovered("wr-1", ["wm-1"], [], now) + sync.recovered("wr-1", ["wm-1"], [], now)
    result = connector.context.ingest(made)
    assert (result.accepted, result.duplicate) == (1, 1)


def test_a_callback_group_sync_and_tag_sync(
    fake: FakeWecom, store: Store, clock: SimClock, engine: Engine, connector: WecomConnector
) -> None:
    connector.sync()
    fake.add_group("wr-2", "lisi", name="新群", members=["wm-2"])
    context = ConnectorContext(store, clock, engine.ingest)
    WecomConnector.callback_sync_group(options_for(fake), "wr-2", context=context)
    assert store.get_group("wr-2")["name"] == "新群"
    assert members(store)["wm-2"].groups == ["wr-1", "wr-2"]
    fake.tag_groups[0]["tag"].append({"id": "et-new", "name": "新标签"})
    WecomConnector.callback_sync_tags(options_for(fake), context=context)
    assert "新标签" in {r.name for r in store.list_tags()}


def test_the_hourly_sync_is_claimed_by_one_process_an_hour(store: Store, clock: SimClock) -> None:
    now = clock.now()
    assert claim_hourly(store, now) is False  # the first is due an hour after the first look
    assert claim_hourly(store, now + timedelta(minutes=59)) is False
    assert claim_hourly(store, now + timedelta(hours=1)) is True
    assert claim_hourly(store, now + timedelta(hours=1)) is False  # another process, the same moment
    assert claim_hourly(store, now + timedelta(hours=2)) is True


def test_a_dispatchers_poll_starts_the_hourly_sync_once_an_hour(
    fake: FakeWecom, store: Store, clock: SimClock, engine: Engine
) -> None:
    api = WecomApi(fake.corp_id, fake.secret, fake.url, sleep=lambda _: None)
    context = ConnectorContext(store, clock, engine.ingest, periodic=True)
    connector = WecomConnector(options_for(fake), context, api=api)
    try:
        connector.poll(clock.now())  # the first look: due in an hour
        assert connector._syncing is None
        clock.advance_to(clock.now() + timedelta(minutes=61))
        connector.poll(clock.now())
        assert connector._syncing is not None
        connector._syncing.result(timeout=60)
        assert store.get_group("wr-1")["name"] == "福利群"
        clock.advance_to(clock.now() + timedelta(minutes=30))
        connector.poll(clock.now())  # not due yet
        clock.advance_to(clock.now() + timedelta(minutes=31))
        connector.poll(clock.now())
        connector._syncing.result(timeout=60)
        assert len(fake.calls_to("externalcontact/groupchat/list")) == 2
    finally:
        connector.close()


def test_a_connector_outside_serve_and_worker_never_syncs_by_itself(
    connector: WecomConnector, clock: SimClock, fake: FakeWecom
) -> None:
    for hours in range(3):
        connector.poll(clock.now() + timedelta(hours=hours))
    assert fake.calls_to("externalcontact/groupchat/list") == []


def test_a_known_member_keeps_what_wecom_does_not_say_and_follows_corp_tags(
    connector: WecomConnector, store: Store, fake: FakeWecom
) -> None:
    from qunflow.engine.member import Member

    known = Member(
        "wm-1", tags=["VIP", "高意向"], points=30, channel="poster", staff="lisi", first_seen=5, is_new=True
    )
    store.put_members([known])
    fake.customers["wm-1"]["follow"]["zhangsan"]["tags"].clear()  # VIP taken off in WeCom

    connector.sync()

    found = members(store)["wm-1"]
    assert found.tags == ["高意向"]  # not a corp tag: stays
    assert (found.points, found.channel, found.first_seen) == (30, "poster", 5)
    assert found.staff == "zhangsan"  # lisi no longer has them as a customer
