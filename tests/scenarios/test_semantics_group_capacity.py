"""A group's own capacity and a staff account's own daily limit (DESIGN §15): `invite_to_group` fills
a group to its capacity when it has one, `add_friend` sends up to the account's limit when it has one,
and the node's setting holds for the others; simulated under the engine's clock."""

from __future__ import annotations

from documents import event, flow, node
from kit import run, sent, tags

from qunflow.engine.event import convert_events
from qunflow.engine.member import StaffRecord
from qunflow.engine.simulate import simulate

T = "2026-11-22T10:00:00+08:00"


def inviting(capacity: int) -> dict:
    return flow(
        "invite",
        [
            node("t", "trigger.event", event="promote"),
            node("vip", "action.invite_to_group", groups=["vip-1", "vip-2", "vip-3"], capacity=capacity),
            node("full", "action.add_tag", tags=["full"]),
        ],
        [("t", "vip"), ("vip", "full", "full")],
        settings={"reentry": "always"},
    )


def promotions(*members: str) -> list[dict]:
    return [
        event(f"p-{m}", "promote", f"2026-11-22T1{i}:00:00+08:00", member=m) for i, m in enumerate(members)
    ]


def test_a_group_with_a_capacity_takes_that_many_and_the_others_take_the_nodes() -> None:
    report = run(
        inviting(capacity=2),
        promotions("a", "b", "c", "d", "e", "f"),
        groups=[{"id": "vip-1", "capacity": 1}, {"id": "vip-2", "capacity": 3}],
    )
    assert [(d["member"], d["payload"]["group"]) for d in sent(report, "vip")] == [
        ("a", "vip-1"),
        ("b", "vip-2"),
        ("c", "vip-2"),
        ("d", "vip-2"),
        ("e", "vip-3"),
        ("f", "vip-3"),
    ]


def test_a_capacity_below_the_groups_size_routes_to_full() -> None:
    report = run(
        inviting(capacity=200),
        promotions("a", "b"),
        members=[{"id": f"m-{i}", "groups": ["vip-1"]} for i in range(3)],
        groups=[
            {"id": "vip-1", "capacity": 2},
            {"id": "vip-2", "capacity": 1},
            {"id": "vip-3", "capacity": 1},
        ],
    )
    assert [(d["member"], d["payload"]["group"]) for d in sent(report, "vip")] == [
        ("a", "vip-2"),
        ("b", "vip-3"),
    ]
    assert tags(report, "b") == []
    report = run(
        inviting(capacity=200),
        promotions("a", "b", "c", "d"),
        groups=[{"id": g, "capacity": 1} for g in ("vip-1", "vip-2", "vip-3")],
    )
    assert [d["payload"]["group"] for d in sent(report, "vip")] == ["vip-1", "vip-2", "vip-3"]
    assert tags(report, "d") == ["full"]


def test_a_staff_account_with_a_daily_limit_of_its_own_sends_that_many() -> None:
    befriending = flow(
        "friends",
        [
            node("t", "trigger.event", event="promote"),
            node("add", "action.add_friend", staff=["s-1", "s-2"], daily_limit=2),
        ],
        [("t", "add")],
        settings={"reentry": "always"},
    )
    events = convert_events(promotions("a", "b", "c", "d"))
    report = simulate([befriending], events, "P1D", staff=[StaffRecord("s-1", "小王", 1)])
    # d waits for the next day: both accounts are at their limits (s-1 its own 1, s-2 the node's 2).
    assert [(d["member"], d["payload"]["staff"], d["at"][:10]) for d in sent(report, "add")] == [
        ("a", "s-1", "2026-11-22"),
        ("b", "s-2", "2026-11-22"),
        ("c", "s-2", "2026-11-22"),
        ("d", "s-1", "2026-11-23"),
    ]
