"""The store's narrow interface, on SQLite and PostgreSQL alike (the `store` fixture runs both)."""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec
import psycopg
import pytest
import sqlalchemy
import sqlalchemy.exc
from documents import flow, node

from qunflow.engine import Member, NotFound, Store
from qunflow.engine.audience import Audience
from qunflow.engine.member import ACTIVITY, PROFILE
from qunflow.engine.record import names
from qunflow.engine.run import Run
from qunflow.engine.store import journey_status

# The store may write through SQLAlchemy or straight through the driver: either error will do.
DUPLICATE = (sqlalchemy.exc.IntegrityError, sqlite3.IntegrityError, psycopg.errors.IntegrityError)
DOC = flow("f", [node("t", "trigger.member_joined"), node("a", "action.add_tag", tags=["x"])], [("t", "a")])


def event_row(
    seq: int, id: str, type: str = "message", member: str = "m-1", at: int = 1_000
) -> tuple[Any, ...]:
    """A row of the `events` table, in the order of `EVENT_COLUMNS`."""
    return (seq, id, type, member, None, None, at, None)


def new_run(
    id: int,
    wake_at: int | None,
    due_seq: int | None,
    member: str = "m-1",
    status: str = "waiting",
    wait_event: str | None = None,
    journey: int | None = None,
) -> Run:
    return Run(
        id,
        journey or id,
        "f",
        1,
        member,
        0,
        "w",
        status,
        0,
        wake_at=wake_at,
        wait_event=wait_event,
        due_seq=due_seq,
        is_new=True,
    )


def delivery(id: int, key: str, node: str = "c", member: str = "m-1", at: int = 5) -> tuple[Any, ...]:
    """A row of the `deliveries` table, in the order of `DELIVERY_COLUMNS`."""
    return (id, key, "f", node, 1, member, "coupon", '{"coupon":"c1"}', at, "pending", 0, at, False)


# -- flows ----------------------------------------------------------------------------------------


def test_drafts_are_saved_and_replaced(store: Store) -> None:
    store.save_draft("f", "first", DOC, 10)
    store.save_draft("f", "second", {**DOC, "name": "second"}, 20)
    record = store.get_flow("f")
    assert (record.name, record.draft["name"], record.draft_updated_at) == ("second", "second", 20)
    assert record.live_version is None
    assert record.versions == []
    assert store.live_flows() == []


def test_an_unknown_flow_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_flow("nope")
    with pytest.raises(NotFound):
        store.publish("nope", DOC, 1)
    with pytest.raises(NotFound):
        store.version_document("nope", 1)
    with pytest.raises(NotFound):
        store.set_paused("nope", True)


def test_publishing_numbers_versions_and_freezes_them(store: Store) -> None:
    store.save_draft("f", "f", DOC, 10)
    assert store.publish("f", DOC, 11) == 1
    changed = {**DOC, "name": "v2"}
    store.save_draft("f", "f", changed, 12)
    assert store.publish("f", changed, 13) == 2
    record = store.get_flow("f")
    assert record.live_version == 2
    assert record.versions == [{"version": 1, "published_at": 11}, {"version": 2, "published_at": 13}]
    assert store.version_document("f", 1) == DOC
    assert store.version_document("f", 2)["name"] == "v2"
    assert store.live_flows() == [("f", 2)]


def test_paused_flows_are_not_live(store: Store) -> None:
    for flow_id in ("b", "a", "c"):
        store.save_draft(flow_id, flow_id, {**DOC, "id": flow_id}, 1)
    store.publish("a", {**DOC, "id": "a"}, 2)
    store.publish("b", {**DOC, "id": "b"}, 2)
    assert store.live_flows() == [("a", 1), ("b", 1)]
    store.set_paused("a", True)
    assert store.live_flows() == [("b", 1)]
    assert store.get_flow("a").paused is True
    store.set_paused("a", False)
    assert store.live_flows() == [("a", 1), ("b", 1)]
    assert [f["id"] for f in store.list_flows()] == ["a", "b", "c"]


# -- members --------------------------------------------------------------------------------------


def full_member(id: str) -> Member:
    return Member(
        id,
        name="小林",
        channel="qr-1",
        tags=["new", "vip"],
        groups=["g-1", "g-2"],
        attributes={"city": "上海", "age": 30, "nested": {"a": [1, 2]}},
        points=12,
        total_spend=99.5,
        order_count=2,
        grade="A",
        stage="customer",
        blacklisted=True,
        first_seen=123,
        last_message_at=456,
        is_new=True,
    )


def same_member(a: Member, b: Member) -> None:
    fields = ("id", *names(PROFILE), *names(ACTIVITY))
    assert {f: getattr(a, f) for f in fields} == {f: getattr(b, f) for f in fields}


def test_members_write_and_load_round_trip(store: Store) -> None:
    written = full_member("m-1")
    with store.transaction() as conn:
        store.write_members(conn, [written, Member("m-2", first_seen=1, is_new=True)])
    assert written.dirty is False and written.is_new is False
    with store.transaction() as conn:
        loaded = store.load_members(conn, ["m-1", "m-2", "m-3"])
    assert sorted(loaded) == ["m-1", "m-2"]
    same_member(loaded["m-1"], written)
    empty = loaded["m-2"]
    assert (empty.tags, empty.groups, empty.attributes, empty.points, empty.grade, empty.blacklisted) == (
        [],
        [],
        {},
        0,
        None,
        False,
    )


def test_member_changes_are_written_back(store: Store) -> None:
    with store.transaction() as conn:
        store.write_members(conn, [full_member("m-1")])
    with store.transaction() as conn:
        member = store.load_members(conn, ["m-1"])["m-1"]
        member.remove_tags(["vip"])
        member.add_tags(["koc"])
        member.leave_group("g-1")
        member.set("attributes.city", "北京")
        member.set("points", 0)
        member.set("grade", "S")
        member.set("stage", "koc")
        member.blacklisted = False
        store.write_members(conn, [member])
    with store.transaction() as conn:
        again = store.load_members(conn, ["m-1"])["m-1"]
    same_member(again, member)
    assert again.tags == ["new", "koc"]
    assert again.groups == ["g-2"]


def test_unchanged_members_are_not_written(store: Store) -> None:
    with store.transaction() as conn:
        store.write_members(conn, [full_member("m-1")])
    with store.transaction() as conn:
        member = store.load_members(conn, ["m-1"])["m-1"]
        member.points = 999  # changed behind the member's back: not dirty, so not written
        store.write_members(conn, [member])
    with store.transaction() as conn:
        assert store.load_members(conn, ["m-1"])["m-1"].points == 12


def test_put_members_creates_or_replaces(store: Store) -> None:
    store.put_members([full_member("m-1")])
    store.put_members([Member("m-1", name="新名字", tags=["x"], first_seen=999, is_new=True)])
    members = store.all_members()
    assert members["m-1"].name == "新名字"
    assert members["m-1"].tags == ["x"]
    assert members["m-1"].first_seen == 123  # when the store first saw them does not move


def test_group_sizes_count_members_in_each_group(store: Store) -> None:
    store.put_members(
        [
            Member("a", groups=["g-1", "g-2"], is_new=True),
            Member("b", groups=["g-1"], is_new=True),
            Member("c", is_new=True),
        ]
    )
    with store.transaction() as conn:
        store.upsert_groups(conn, [{"id": "g-1", "name": "一群", "tags": ["fans"], "kind": "fans"}])
        store.ensure_groups(conn, ["g-1", "g-3"])
        assert store.group_sizes(conn, ["g-1", "g-2", "g-3"]) == {"g-1": 2, "g-2": 1, "g-3": 0}
        groups = store.load_groups(conn, ["g-1", "g-3", "g-missing"])
    unset = {"capacity": None, "owner": None}
    assert groups["g-1"] == {"id": "g-1", "name": "一群", "kind": "fans", "tags": ["fans"], **unset}
    assert groups["g-3"] == {"id": "g-3", "name": None, "kind": None, "tags": [], **unset}
    assert "g-missing" not in groups


# -- audiences ------------------------------------------------------------------------------------

DAY = 86_400 * 1_000_000
NOW = 40 * DAY


def audience_members() -> list[Member]:
    """Members that each pass or fail some filter: tags and groups (JSON lists, some empty or with
    characters that need quoting), grade, stage, spend, and the last time they spoke."""
    return [
        Member(
            "a", tags=["vip", "new"], groups=["g-1"], grade="S", stage="koc", total_spend=500, is_new=True
        ),
        Member("b", tags=["vip"], groups=["g-2", "g-1"], grade="A", total_spend=99.5, first_seen=NOW - DAY),
        Member("c", tags=["免打扰", 'say "hi"'], grade="B", stage="member", last_message_at=DAY),
        Member("d", groups=["g-3"], stage="prospect", total_spend=2000, last_message_at=NOW),
        Member("e", tags=["new", "vipx", "%"], groups=["g-1x"], first_seen=5 * DAY),
        Member("f"),
    ]


AUDIENCES = [
    {},
    {"tags_all": ["vip", "new"]},
    {"tags_all": ["vip", "vip"]},
    {"tags_any": ["vip", 'say "hi"']},
    {"tags_any": ["%"]},
    {"tags_none": ["vip", "免打扰"]},
    {"groups": ["g-1"]},
    {"groups": ["g-2", "g-3"], "tags_none": ["new"]},
    {"grades": ["S", "B"], "stages": ["koc", "member"]},
    {"min_spend": 99.5, "max_spend": 500},
    {"inactive_days": 14},
    {"inactive_days": 14, "tags_any": ["new", "免打扰"], "tags_none": ["vip"]},
]


@pytest.mark.parametrize("audience", AUDIENCES, ids=str)
def test_an_audience_page_finds_exactly_the_members_in_the_audience(
    store: Store, audience: dict[str, Any]
) -> None:
    wanted = msgspec.convert(audience, Audience)
    members = audience_members()
    store.put_members(members)
    expected = sorted(m.id for m in members if wanted.matches(m, NOW))
    found: list[str] = []
    after: str | None = ""
    with store.transaction() as conn:
        while after is not None:  # pages of two candidates: the filters hold across pages
            page, after = store.audience_page(conn, wanted, NOW, after, 2)
            found += [m.id for m in page]
    assert found == expected


@pytest.mark.parametrize(
    ("reentry", "entering"),
    [(None, ["c", "d"]), (10 * DAY, ["b", "c", "d"]), (30 * DAY, ["c", "d"]), (0, ["b", "c", "d"])],
)
def test_an_audience_page_for_a_flow_skips_members_its_reentry_rule_keeps_out(
    store: Store, reentry: int | None, entering: list[str]
) -> None:
    """a: a live run; b: one started 20 days ago; c: none in this flow; d: none at all."""
    store.put_members([Member(i, first_seen=0, is_new=True) for i in "abcd"])
    runs = [new_run(1, None, None, member="a", status="waiting"), new_run(2, None, None, member="b")]
    runs[1].status, runs[1].started_at = "done", NOW - 20 * DAY
    other = new_run(3, None, None, member="c", status="done")
    other.flow_id = "g"
    with store.transaction() as conn:
        store.write_runs(conn, [*runs, other])
        page, after = store.audience_page(conn, Audience(), NOW, "", 10, ("f", reentry))
    assert ([m.id for m in page], after) == (entering, None)


# -- events ---------------------------------------------------------------------------------------


def test_events_are_unique_by_id(store: Store) -> None:
    with store.transaction() as conn:
        store.insert_events(conn, [event_row(1, "e-1"), event_row(2, "e-2", at=2_000)])
    with store.transaction() as conn:
        assert store.known_event_ids(conn, ["e-1", "e-3"]) == {"e-1"}
        assert store.message_times(conn, ["m-1"], 1_500) == {"m-1": [2_000]}
        assert store.load_events(conn, [2])[2]["id"] == "e-2"
    with pytest.raises(DUPLICATE), store.transaction() as conn:
        store.insert_events(conn, [event_row(3, "e-1")])
    with store.transaction() as conn:
        assert store.load_events(conn, [3]) == {}


# -- runs -----------------------------------------------------------------------------------------


def test_claim_due_orders_by_wake_time_then_due_order_then_id(store: Store) -> None:
    runs = [
        new_run(1, 200, 5),
        new_run(2, 100, 9),
        new_run(3, 100, 3),
        new_run(4, 100, 3),
        new_run(5, 300, 1),
        new_run(6, None, 2, wait_event="purchase"),
    ]
    with store.transaction() as conn:
        store.write_runs(conn, runs)
    with store.transaction() as conn:
        assert [r.id for r in store.claim_due(conn, 200, 10)] == [3, 4, 2, 1]
        assert [r.id for r in store.claim_due(conn, 200, 2)] == [3, 4]
        assert store.claim_due(conn, 99, 10) == []
    assert store.next_wake() == 100


def test_waits_on_events_are_found_by_member(store: Store) -> None:
    with store.transaction() as conn:
        store.write_runs(
            conn,
            [
                new_run(1, 500, 1, member="a", wait_event="purchase"),
                new_run(2, None, 2, member="b", wait_event="purchase"),
                new_run(3, 100, 3, member="a"),
            ],
        )
    with store.transaction() as conn:
        found = store.event_waiting_runs(conn, ["a", "b"])
    assert [(r.id, r.member_id, r.wait_event, r.wake_at) for r in found] == [
        (1, "a", "purchase", 500),
        (2, "b", "purchase", None),
    ]


def test_runs_round_trip_and_update(store: Store) -> None:
    run = new_run(7, 100, 1)
    run.vars = {"score": 3, "名": "值"}
    run.event_seq = 42
    with store.transaction() as conn:
        store.write_runs(conn, [run])
    run.status, run.wake_at, run.node, run.ended_at, run.error = "failed", None, "x", 900, "x: boom"
    run.dirty = True
    with store.transaction() as conn:
        store.write_runs(conn, [run])
        loaded = store.get_run(conn, 7)
        with pytest.raises(NotFound):
            store.get_run(conn, 8)
    assert (loaded.status, loaded.node, loaded.wake_at, loaded.ended_at, loaded.error) == (
        "failed",
        "x",
        None,
        900,
        "x: boom",
    )
    assert (loaded.vars, loaded.event_seq, loaded.journey, loaded.flow_id) == (
        {"score": 3, "名": "值"},
        42,
        7,
        "f",
    )
    assert [r.id for r in store.runs(status="failed")] == [7]
    assert store.runs(status="waiting") == []


def test_entry_history_counts_live_runs_and_latest_start(store: Store) -> None:
    done = new_run(1, None, None, status="done")
    done.started_at = 50
    live = new_run(2, 100, 1, status="waiting")
    live.started_at = 70
    other = new_run(3, None, None, member="b", status="exited")
    with store.transaction() as conn:
        store.write_runs(conn, [done, live, other])
        history = store.entry_history(conn, ["m-1", "b", "c"])
    assert history == {("f", "m-1"): (1, 70), ("f", "b"): (0, 0)}


def test_journeys_count_once_and_take_the_liveliest_status(store: Store) -> None:
    runs = [
        new_run(1, None, None, status="done"),
        new_run(2, 100, 1, status="waiting", journey=1),
        new_run(3, None, None, status="exited"),
        new_run(4, None, None, status="done"),
    ]
    with store.transaction() as conn:
        store.write_runs(conn, runs)
        assert [r.id for r in store.live_journey_runs(conn, 1)] == [2]
    assert store.journey_statuses() == {"f": {"done": 1, "waiting": 1, "active": 0, "exited": 1, "failed": 0}}
    assert store.waiting_by_node("f") == {"w": 1}
    assert journey_status({"done", "failed"}) == "failed"
    assert journey_status({"done"}) == "done"


# -- deliveries and counters ----------------------------------------------------------------------


def test_deliveries_are_deduplicated_on_their_key(store: Store) -> None:
    with store.transaction() as conn:
        store.insert_deliveries(conn, [delivery(1, "1:c"), delivery(2, "1:d", node="d", at=3)])
    with store.transaction() as conn:
        store.insert_deliveries(conn, [delivery(3, "1:c"), delivery(4, "2:c", member="m-2")])
    found = store.deliveries()
    assert [(d["id"], d["key"]) for d in found] == [(2, "1:d"), (1, "1:c"), (4, "2:c")]
    assert found[1]["payload"] == {"coupon": "c1"}
    assert [d["id"] for d in store.deliveries(member_id="m-2")] == [4]


def test_node_counters_add_up(store: Store) -> None:
    with store.transaction() as conn:
        store.add_counts(conn, {("f", "a", "entered"): 2, ("f", "a", "port:next"): 1})
    with store.transaction() as conn:
        store.add_counts(conn, {("f", "a", "entered"): 3, ("g", "b", "entered"): 1})
    assert store.node_counts() == {"f": {"a": {"entered": 5, "port:next": 1}}, "g": {"b": {"entered": 1}}}
    assert store.node_counts("g") == {"g": {"b": {"entered": 1}}}


def test_id_allocation_is_monotonic_and_blocks_do_not_overlap(store: Store) -> None:
    with store.transaction() as conn:
        first = store.allocate(conn, "ids", 10)
        second = store.allocate(conn, "ids", 5)
        other = store.allocate(conn, "events", 3)
    with store.transaction() as conn:
        third = store.allocate(conn, "ids", 1)
    assert first == 1
    assert second == first + 10
    assert third == second + 5
    assert other == 1


def test_a_failed_transaction_writes_nothing(store: Store) -> None:
    with store.transaction() as conn:
        before = store.allocate(conn, "ids", 1)
    with pytest.raises(RuntimeError), store.transaction() as conn:
        store.write_members(conn, [full_member("m-1")])
        inside = store.allocate(conn, "ids", 10)
        raise RuntimeError("boom")
    assert store.all_members() == {}
    with store.transaction() as conn:
        after = store.allocate(conn, "ids", 1)
    # Ids handed out in a rolled-back batch may be skipped, never handed out twice to committed rows.
    assert before < inside and after > before


def test_the_migrated_schema_has_the_indexes_the_engine_relies_on(store: Store) -> None:
    inspector = sqlalchemy.inspect(store.engine)
    run_indexes = [tuple(ix["column_names"]) for ix in inspector.get_indexes("runs")]
    assert any(columns[0] == "wake_at" for columns in run_indexes), run_indexes
    assert any(columns[:2] == ("member_id", "wait_event") for columns in run_indexes), run_indexes
    event_ids = [tuple(u["column_names"]) for u in inspector.get_unique_constraints("events")] + [
        tuple(ix["column_names"]) for ix in inspector.get_indexes("events") if ix.get("unique")
    ]
    assert ("id",) in event_ids
    delivery_keys = [tuple(u["column_names"]) for u in inspector.get_unique_constraints("deliveries")] + [
        tuple(ix["column_names"]) for ix in inspector.get_indexes("deliveries") if ix.get("unique")
    ]
    assert ("key",) in delivery_keys


def test_reopening_a_file_store_keeps_everything(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'again.db'}"
    store = Store.open(url)
    store.save_draft("f", "f", DOC, 1)
    store.publish("f", DOC, 2)
    store.put_members([full_member("m-1")])
    store.close()
    store = Store.open(url)  # migrating an up-to-date store is a no-op
    try:
        assert store.live_flows() == [("f", 1)]
        same_member(store.all_members()["m-1"], full_member("m-1"))
    finally:
        store.close()


def test_a_bad_database_url_is_a_user_error() -> None:
    from qunflow.engine import UserError

    with pytest.raises(UserError, match="database URL"):
        Store("nosuchdb://x")
