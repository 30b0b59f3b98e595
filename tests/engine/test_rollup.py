"""The daily rollups (engine.rollup): kept by every writer in its own transaction, they hold what a
recount of the stored members, events and deliveries gives (`rebuild_stats`), on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from qunflow.engine import Engine, SimClock, Store
from qunflow.engine.connectors import DeliveryFailed
from qunflow.engine.event import convert_events
from qunflow.engine.member import Member
from qunflow.engine.outbox import Dispatcher
from qunflow.engine.rollup import STAGE, Tally, local_day, member_facts
from qunflow.engine.store import schema as t
from qunflow.engine.store.stats import rebuild_stats

FLOW = {
    "id": "hello",
    "nodes": [
        {"id": "joined", "type": "trigger.member_joined"},
        {"id": "prospect", "type": "action.set_stage", "config": {"stage": "prospect"}},
        {"id": "hi", "type": "action.send_message", "config": {"text": "hi"}},
    ],
    "edges": [{"from": "joined", "to": "prospect"}, {"from": "prospect", "to": "hi"}],
}


class FailsForM2:
    name = "fails"

    def send(self, delivery) -> None:
        if delivery.member == "m-2":
            raise DeliveryFailed("no", retryable=False)


def _cells(store: Store) -> dict[tuple[str, str, int, str], float]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.daily_stats)).all()
    return {(r.topic, r.key, r.day, r.metric): r.value for r in rows if r.value}


def _events(day: datetime) -> list[dict[str, object]]:
    at = day.isoformat()
    return [
        {
            "id": f"{at}-j1",
            "type": "member_joined",
            "member": "m-1",
            "group": "g-1",
            "channel": "qr",
            "at": at,
        },
        {"id": f"{at}-j2", "type": "member_joined", "member": "m-2", "group": "g-2", "at": at},
        {
            "id": f"{at}-t1",
            "type": "message",
            "member": "m-1",
            "group": "g-1",
            "at": at,
            "data": {"text": "x"},
        },
        {"id": f"{at}-p1", "type": "purchase", "member": "m-1", "at": at, "data": {"amount": 12.5}},
        {"id": f"{at}-c3", "type": "contact_added", "member": "m-3", "channel": "qr-b", "at": at},
    ]


def test_the_kept_rollups_equal_a_recount_of_what_is_stored(store: Store, registry, clock: SimClock) -> None:
    engine = Engine(store, registry, clock)
    engine.deploy(FLOW)
    day1 = clock.now()
    engine.ingest(convert_events(_events(day1)))
    Dispatcher(store, FailsForM2(), clock=clock).drain()
    failed = [d["id"] for d in store.deliveries() if d["status"] == "failed"]
    store.retry_delivery(failed[0], 0)
    day2 = day1 + timedelta(days=1, hours=3)
    clock.advance_to(day2)
    at = day2.isoformat()
    engine.ingest(
        convert_events(
            [
                {"id": "l2", "type": "member_left", "member": "m-2", "group": "g-2", "at": at},
                {"id": "j2b", "type": "member_joined", "member": "m-2", "group": "g-1", "at": at},
                {
                    "id": "t2",
                    "type": "message",
                    "member": "m-2",
                    "group": "g-1",
                    "at": at,
                    "data": {"text": "y"},
                },
                {
                    "id": "d3",
                    "type": "contact_deleted",
                    "member": "m-3",
                    "at": at,
                    "data": {"by": "customer"},
                },
                {"id": "d3b", "type": "contact_deleted", "member": "m-3", "at": at, "data": {"by": "staff"}},
            ]
        )
    )
    # An import: one member new, one replaced (its channel and spend move; its first day stays).
    store.put_members(
        [
            Member(
                "m-9", channel="qr", stage="koc", total_spend=80.0, order_count=2, first_seen=0, is_new=True
            ),
            Member("m-1", channel="qr-b", stage="member", total_spend=40.0, first_seen=0, is_new=True),
        ]
    )
    kept = _cells(store)
    with store.transaction() as conn:
        rebuild_stats(conn)
    recounted = _cells(store)
    # Stage moves are dated by when they happened, which only a writer sees: their totals agree.
    assert _by_stage(kept) == _by_stage(recounted) == {"prospect": 1, "member": 1, "koc": 1}
    assert {k: v for k, v in kept.items() if k[0] != STAGE} == {
        k: v for k, v in recounted.items() if k[0] != STAGE
    }
    first = local_day(int(day1.timestamp() * 1_000_000))
    # qr-b: m-3 (who deleted the contact, twice) and m-1 (moved there by the import, from day 1).
    assert (kept[("channel", "qr-b", first, "added")], kept[("channel", "qr-b", first, "contacts")]) == (2, 1)
    # Two welcomes: m-1's sent, m-2's failed and then retried (pending again).
    assert kept[("delivery", "message", first, "pending")] == 1
    assert kept[("delivery", "message", first, "sent")] == 1


def _by_stage(cells: dict[tuple[str, str, int, str], float]) -> dict[str, float]:
    found: dict[str, float] = {}
    for (topic, key, _, _), value in cells.items():
        if topic == STAGE:
            found[key] = found.get(key, 0) + value
    return {k: v for k, v in found.items() if v}


def test_a_local_day_turns_at_midnight_in_shanghai() -> None:
    def us(moment: datetime) -> int:
        return int(moment.timestamp() * 1_000_000)

    assert local_day(us(datetime(2026, 11, 22, 15, 59, 59, tzinfo=UTC))) == 20261122
    assert local_day(us(datetime(2026, 11, 22, 16, 0, 0, tzinfo=UTC))) == 20261123


def test_a_member_moved_and_moved_back_leaves_every_cell_as_it_was() -> None:
    tally = Tally()
    before = member_facts("qr", 0, None, "prospect", 0.0, 0, 5, ["g-1"])
    after = member_facts("qr-b", 0, 1, "customer", 9.0, 1, 86_400_000_000 * 3, ["g-1", "g-2"])
    tally.member_moved(before, after, 20260101)
    tally.member_moved(after, before, 20260101)
    assert tally.changes() == []
