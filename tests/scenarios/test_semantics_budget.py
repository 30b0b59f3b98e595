"""The cross-flow touch budget (DESIGN §18): at most N messages to one member from all flows together
within any sliding window; priority decides who goes first; over the budget a flow waits or skips."""

from __future__ import annotations

from typing import Any

from documents import event, flow, node
from kit import run, sent

from qunflow.engine import default_registry
from qunflow.sdk import NEXT, Context, NoConfig, Outcome, action

BUDGET = {"touch_budget": {"messages": 2, "per": "P1D"}}
T0 = "2026-11-22T10:00:00+08:00"


def sender(
    flow_id: str, priority: int | None = None, over_budget: str | None = None, **send: Any
) -> dict[str, Any]:
    settings: dict[str, Any] = {"reentry": "always"}
    if priority is not None:
        settings["priority"] = priority
    if over_budget is not None:
        settings["over_budget"] = over_budget
    return flow(
        flow_id,
        [node("t", "trigger.event", event="go"), node("hi", "action.send_message", text=flow_id, **send)],
        [("t", "hi")],
        settings=settings,
    )


def go(id: str, at: str = T0, member: str = "m-1") -> dict[str, Any]:
    return event(id, "go", at, member=member)


def made(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(d["at"], d["flow"], d["member"]) for d in report["deliveries"] if d["kind"] == "message"]


def test_five_flows_share_the_budget_by_priority_waiting_or_skipping() -> None:
    flows = [
        sender("a-low", 1),
        sender("b-top", 9),
        sender("c-mid", 5),
        sender("d-high", 7),
        sender("e-skip", 3, "skip"),
    ]
    report = run(flows, [go("e1")], until="P3D", settings=BUDGET)
    assert made(report) == [
        (T0, "b-top", "m-1"),
        (T0, "d-high", "m-1"),
        # The two made at 10:00 stop counting at 10:00 the next day: then c-mid before a-low.
        ("2026-11-23T10:00:00+08:00", "a-low", "m-1"),
        ("2026-11-23T10:00:00+08:00", "c-mid", "m-1"),
    ]
    # Sorted by flow in the report; the order they were made in is their delivery ids'.
    assert [(s["flow"], s["reason"], s["at"]) for s in report["skipped"]] == [("e-skip", "budget", T0)]
    assert all(report["runs"][f]["done"] == 1 for f in report["runs"])


def test_priority_orders_messages_due_at_one_moment() -> None:
    flows = [sender("a-low", 2), sender("b-top", 8)]
    report = run(flows, [go("e1")], until="P3D", settings={"touch_budget": {"messages": 1, "per": "P1D"}})
    assert made(report) == [(T0, "b-top", "m-1"), ("2026-11-23T10:00:00+08:00", "a-low", "m-1")]


def test_without_a_budget_nothing_waits() -> None:
    flows = [sender(f"f{i}") for i in range(5)]
    report = run(flows, [go("e1")], until="P1D")
    assert [d["at"] for d in report["deliveries"]] == [T0] * 5


def test_the_window_slides_rather_than_resetting_at_midnight() -> None:
    budget = {"touch_budget": {"messages": 1, "per": "P1D"}}
    events = [go("e1", "2026-11-22T23:00:00+08:00"), go("e2", "2026-11-23T01:00:00+08:00")]
    report = run(sender("f"), events, until="P3D", settings=budget)
    assert [d["at"] for d in report["deliveries"]] == [
        "2026-11-22T23:00:00+08:00",
        # A new calendar day at 01:00 gives no room: the 23:00 message counts until 23:00.
        "2026-11-23T23:00:00+08:00",
    ]


def test_group_posts_and_welcome_messages_do_not_count() -> None:
    @action("test.welcome", title={"zh": "欢迎语", "en": "Welcome"})
    def welcome(ctx: Context, config: NoConfig) -> Outcome:
        ctx.deliver("welcome", {"text": "欢迎", "welcome_code": "w"})
        return NEXT

    registry = default_registry().copy()
    registry.add(welcome)
    document = flow(
        "f",
        [
            node("t", "trigger.event", event="go"),
            node("w", "test.welcome"),
            node("p1", "action.send_message", text="群公告", to="group", group="g-1"),
            node("p2", "action.send_message", text="群公告二", to="group", group="g-1"),
            node("hi", "action.send_message", text="私聊"),
            node("hi2", "action.send_message", text="私聊二"),
        ],
        [("t", "w"), ("w", "p1"), ("p1", "p2"), ("p2", "hi"), ("hi", "hi2")],
    )
    budget = {"touch_budget": {"messages": 1, "per": "PT1H"}}
    report = run(document, [go("e1")], until="P1D", settings=budget, registry=registry)
    got = [(d["node"], d["at"]) for d in report["deliveries"]]
    assert got == [
        ("hi", T0),
        ("p1", T0),
        ("p2", T0),
        ("w", T0),
        # The only touch in the window was `hi`: the second private message waits one hour.
        ("hi2", "2026-11-22T11:00:00+08:00"),
    ]


def test_a_broadcast_counts_and_skips_members_over_the_budget() -> None:
    members = [{"id": m, "tags": ["vip"]} for m in ("a", "b", "c")]
    first = sender("first", 9)
    cast = flow(
        "cast",
        [
            node("t", "trigger.event", event="go"),
            node("all", "action.broadcast", text="大促", audience={"tags_any": ["vip"]}),
        ],
        [("t", "all")],
        settings={"over_budget": "skip"},
    )
    budget = {"touch_budget": {"messages": 1, "per": "P1D"}}
    report = run([first, cast], [go("e1", member="b")], until="P1D", settings=budget, members=members)
    assert [(d["flow"], d["member"]) for d in sent(report)] == [("cast", "a"), ("cast", "c"), ("first", "b")]
    assert [(s["flow"], s["member"], s["reason"]) for s in report["skipped"]] == [("cast", "b", "budget")]


def test_scheduled_flows_firing_together_take_turns_by_priority() -> None:
    def daily(flow_id: str, priority: int) -> dict[str, Any]:
        return flow(
            flow_id,
            [
                node("t", "trigger.schedule", cron="0 10 * * *", audience={"tags_any": ["vip"]}),
                node("hi", "action.send_message", text=flow_id),
            ],
            [("t", "hi")],
            settings={"priority": priority, "over_budget": "skip", "reentry": "always"},
        )

    report = run(
        [daily("a-news", 3), daily("b-care", 8)],
        [],
        until="2026-11-23T12:00:00+08:00",
        members=[{"id": "m-1", "tags": ["vip"]}],
        settings={"touch_budget": {"messages": 1, "per": "P1D"}},
        start="2026-11-22T09:00:00+08:00",
    )
    assert made(report) == [(T0, "b-care", "m-1"), ("2026-11-23T10:00:00+08:00", "b-care", "m-1")]
    assert [(s["flow"], s["at"]) for s in report["skipped"]] == [
        ("a-news", T0),
        ("a-news", "2026-11-23T10:00:00+08:00"),
    ]


def test_a_message_skipped_for_the_budget_does_not_count_towards_the_frequency_cap() -> None:
    capped = flow(
        "capped",
        [
            node("t", "trigger.event", event="go"),
            node("hi", "action.send_message", text="一"),
            node("w", "wait.delay", duration="PT2H"),
            node("again", "action.send_message", text="二"),
        ],
        [("t", "hi"), ("hi", "w"), ("w", "again")],
        settings={"over_budget": "skip", "frequency_cap": {"messages": 1, "per": "P1D"}},
    )
    # The budget is used up by `first` until 11:00; `capped`'s first message is skipped at 10:00,
    # so its second, at 12:00, is within its cap of one a day and the budget has room again.
    first = sender("first", 9)
    budget = {"touch_budget": {"messages": 1, "per": "PT1H"}}
    report = run([first, capped], [go("e1")], until="P1D", settings=budget)
    assert made(report) == [(T0, "first", "m-1"), ("2026-11-22T12:00:00+08:00", "capped", "m-1")]
    assert [(s["node"], s["reason"]) for s in report["skipped"]] == [("hi", "budget")]
