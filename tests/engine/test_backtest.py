"""Backtest (DESIGN §17): a flow over the last N days of stored events, in a scratch store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from documents import event, flow, node
from sqlalchemy import func, select

from qunflow.engine import Engine, SimClock, Store
from qunflow.engine.backtest import MassSendLimit, StoredEvents, TouchBudget, backtest
from qunflow.engine.errors import FlowInvalid, UserError
from qunflow.engine.event import convert_events
from qunflow.engine.member import MemberRecord
from qunflow.engine.store import schema as t

# Monday 2026-11-30 12:00 in Shanghai.
NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


def welcome() -> dict:
    """joined → message → wait a day → coupon → message again (the second message the same day)."""
    return flow(
        "welcome",
        [
            node("joined", "trigger.member_joined"),
            node("hello", "action.send_message", text="{{ member.name }}，欢迎"),
            node("wait", "wait.delay", duration="P1D"),
            node("coupon", "action.send_coupon", coupon="welcome-10"),
            node("again", "action.send_message", text="券已发放"),
        ],
        [("joined", "hello"), ("hello", "wait"), ("wait", "coupon"), ("coupon", "again")],
    )


def joined(event_id: str, member: str, at: str) -> dict:
    return event(event_id, "member_joined", at, member, group="g-1")


@pytest.fixture
def community(store: Store) -> Store:
    """Four stored members and their events of the last 40 days, taken in by an engine with no flow
    live (so the store has events and members but no runs or deliveries)."""
    store.put_members(
        [
            MemberRecord(id=m, name=name).to_member(0)
            for m, name in (("m-1", "小林"), ("m-2", "小周"), ("m-3", "小吴"), ("m-4", "小郑"))
        ]
    )
    raw = [
        joined("e-1", "m-1", "2026-11-25T10:00:00+08:00"),  # 5 days ago
        joined("e-2", "m-2", "2026-11-28T10:00:00+08:00"),  # 2 days ago
        joined("e-3", "m-3", "2026-10-21T10:00:00+08:00"),  # 40 days ago: before the span
        joined("e-4", "m-4", "2026-11-29T20:00:00+08:00"),  # the coupon would be due after now
        event("e-5", "message", "2026-11-26T09:00:00+08:00", "m-1", data={"text": "hi"}),
    ]
    Engine(store, clock=SimClock(NOW)).ingest(convert_events(raw))
    return store


def test_members_messages_and_days_match_the_hand_count(community: Store) -> None:
    result = backtest(community, welcome(), 30, NOW)
    assert (result.events, result.members, result.entered) == (4, 4, 3)
    assert result.runs["welcome"] == {"done": 2, "waiting": 1, "active": 0, "exited": 0, "failed": 0}
    assert result.nodes["welcome"] == {"joined": 3, "hello": 3, "wait": 3, "coupon": 2, "again": 2}
    # m-1: hello 11-25, coupon + again 11-26; m-2: hello 11-28, coupon + again 11-29; m-4: hello 11-29.
    by_day = {d.date: (d.messages, d.kinds) for d in result.per_day if d.kinds}
    assert by_day == {
        "2026-11-25": (1, {"message": 1}),
        "2026-11-26": (1, {"coupon": 1, "message": 1}),
        "2026-11-28": (1, {"message": 1}),
        "2026-11-29": (2, {"coupon": 1, "message": 2}),
    }
    assert len(result.per_day) == 31  # 2026-10-31 … 2026-11-30, local dates
    assert (result.per_day[0].date, result.per_day[-1].date) == ("2026-10-31", "2026-11-30")
    assert result.kinds == {"coupon": 2, "message": 5}
    assert (result.messages, result.deliveries_total) == (5, 7)
    first = result.deliveries[0]
    assert (first["member"], first["kind"], first["payload"]["text"]) == ("m-1", "message", "小林，欢迎")
    assert first["at"] == "2026-11-25T10:00:00+08:00"
    assert result.quota is None and result.budget is None


def test_a_shorter_span_leaves_earlier_events_out(community: Store) -> None:
    result = backtest(community, welcome(), 3, NOW)
    assert result.entered == 2  # m-2 and m-4
    assert result.nodes["welcome"]["joined"] == 2


def test_quota_and_budget_count_member_messages(community: Store) -> None:
    quota = MassSendLimit(count=1, per="day")
    budget = TouchBudget(messages=1, per=timedelta(days=2))
    result = backtest(community, welcome(), 30, NOW, quota=quota, budget=budget)
    # m-1: 11-25 10:00, 11-26 10:00; m-2: 11-28, 11-29; m-4: 11-29. One a day: none over.
    assert result.quota is not None
    assert (result.quota.sends, result.quota.over, result.quota.members_over) == (5, 0, 0)
    # One per two days: m-1's and m-2's second message (a day after the first) are over.
    assert result.budget is not None
    assert (result.budget.counted, result.budget.over, result.budget.members_over) == (3, 2, 2)
    assert result.budget.per == "P2D"
    weekly = backtest(community, welcome(), 30, NOW, quota=MassSendLimit(count=1, per="week"))
    assert weekly.quota is not None and (weekly.quota.over, weekly.quota.members_over) == (2, 2)


def test_nothing_real_is_touched(community: Store) -> None:
    def snapshot() -> dict:
        with community.engine.connect() as conn:
            counts = {
                table.name: conn.execute(select(func.count()).select_from(table)).scalar()
                for table in (t.runs, t.deliveries, t.events, t.flows, t.flow_versions, t.node_counts)
            }
            members = sorted(tuple(r) for r in conn.execute(select(t.members)))
            groups = sorted(tuple(r) for r in conn.execute(select(t.groups)))
        return {"counts": counts, "members": members, "groups": groups}

    before = snapshot()
    result = backtest(community, welcome(), 30, NOW)
    assert result.deliveries_total == 7
    assert snapshot() == before
    assert before["counts"]["runs"] == before["counts"]["deliveries"] == before["counts"]["flows"] == 0


def test_days_out_of_range_and_invalid_flows_are_refused(community: Store) -> None:
    for days in (0, 91, -1):
        with pytest.raises(UserError, match="^days: "):
            backtest(community, welcome(), days, NOW)
    broken = welcome()
    broken["nodes"][3]["config"] = {}
    with pytest.raises(FlowInvalid) as raised:
        backtest(community, broken, 30, NOW)
    assert [(p.node, p.path) for p in raised.value.problems] == [("coupon", "config")]


def test_stored_events_come_in_time_order_a_page_at_a_time(community: Store) -> None:
    since, until = datetime(2026, 10, 1, tzinfo=UTC), NOW
    from qunflow.engine.clock import to_us

    events = StoredEvents(community, to_us(since), to_us(until), page=2)
    assert len(events) == 5
    assert [e.id for e in events[0:5]] == ["e-3", "e-1", "e-5", "e-2", "e-4"]
    walked = StoredEvents(community, to_us(since), to_us(until), page=2)
    assert walked[1].id == "e-1"
    assert [e.id for e in walked[2:4]] == ["e-5", "e-2"]  # lets go of what came before index 2
    with pytest.raises(IndexError):
        walked[0]
    assert walked[4].member == "m-4" and walked[4].group == "g-1"
