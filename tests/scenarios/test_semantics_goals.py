"""Goals and holdouts (DESIGN §16) under the simulated clock: the window, exit on goal, at most once,
the control group's share and its goals, and the figures per split branch with their A/B sentence."""

from __future__ import annotations

from typing import Any

from documents import event, flow, node
from kit import run, runs, sent

from qunflow.engine.abtest import split_results

GOAL = {"event": "purchase", "where": [{"field": "data.amount", "op": "gte", "value": 50}], "within": "P7D"}


HALVES = [{"port": "a", "percent": 50}, {"port": "b", "percent": 50}]


def journey(goal: dict[str, Any] | None = None, holdout: int = 0, **extra: Any) -> dict[str, Any]:
    """join → wait 2 days → coupon, with a goal."""
    settings = {"goal": {**GOAL, **(goal or {})}, "holdout": holdout}
    return flow(
        "f",
        [
            node("t", "trigger.member_joined"),
            node("w", "wait.delay", duration="P2D"),
            node("coupon", "action.send_coupon", coupon="c"),
        ],
        [("t", "w"), ("w", "coupon")],
        settings=settings,
        **extra,
    )


def joined(member: str, at: str = "2026-11-22T10:00:00+08:00") -> dict[str, Any]:
    return event(f"j-{member}", "member_joined", at, member=member, group="g")


def bought(member: str, at: str, amount: float = 60, suffix: str = "") -> dict[str, Any]:
    return event(f"p-{member}{suffix}", "purchase", at, member=member, data={"amount": amount})


def test_a_purchase_within_the_window_converts_and_one_after_it_does_not() -> None:
    report = run(
        journey(),
        [
            joined("early"),
            joined("late"),
            joined("edge"),
            bought("early", "2026-11-23T10:00:00+08:00"),
            bought("late", "2026-11-29T10:00:01+08:00"),  # 7 days and a second after the start
            bought("edge", "2026-11-29T10:00:00+08:00"),  # exactly 7 days after: still within
        ],
        until="P10D",
    )
    assert report["goals"] == {
        "f": {"entered": 3, "converted": 2, "holdout": {"entered": 0, "converted": 0}, "by_branch": {}}
    }


def test_exit_on_goal_ends_the_waiting_run_and_exit_false_lets_it_go_on() -> None:
    events = [joined("a"), joined("b"), bought("a", "2026-11-23T10:00:00+08:00")]
    leaving = run(journey(), events, until="P5D")
    assert [d["member"] for d in sent(leaving, "coupon")] == ["b"]
    assert runs(leaving) == {"done": 1, "exited": 1}
    assert leaving["nodes"]["f"] == {"t": 2, "w": 2, "coupon": 1}

    staying = run(journey({"exit": False}), events, until="P5D")
    assert sorted(d["member"] for d in sent(staying, "coupon")) == ["a", "b"]
    assert runs(staying) == {"done": 2}
    assert staying["goals"]["f"]["converted"] == 1


def test_a_journey_converts_at_most_once_and_only_on_a_matching_event() -> None:
    report = run(
        journey({"exit": False}),
        [
            joined("a"),
            joined("small"),
            bought("a", "2026-11-23T10:00:00+08:00"),
            bought("a", "2026-11-24T10:00:00+08:00", suffix="-2"),
            bought("small", "2026-11-23T10:00:00+08:00", amount=49.9),
            event("c-small", "coupon_redeemed", "2026-11-23T11:00:00+08:00", member="small"),
        ],
        until="P10D",
    )
    assert report["goals"]["f"]["entered"] == 2
    assert report["goals"]["f"]["converted"] == 1


def test_a_finished_run_still_converts_and_the_starting_event_never_does() -> None:
    buy_again = flow(
        "f",
        [node("t", "trigger.purchase"), node("thanks", "action.send_coupon", coupon="again")],
        [("t", "thanks")],
        settings={"goal": {"event": "purchase", "within": "P30D"}, "reentry": "once"},
    )
    report = run(
        buy_again,
        [
            bought("once", "2026-11-22T10:00:00+08:00"),
            bought("twice", "2026-11-22T10:00:00+08:00"),
            bought("twice", "2026-12-01T10:00:00+08:00", suffix="-2"),
        ],  # fmt: skip
        until="P40D",
    )
    # Both journeys ended at once (done); the second purchase, nine days later, converts one.
    assert runs(report) == {"done": 2}
    assert report["goals"]["f"]["entered"] == 2
    assert report["goals"]["f"]["converted"] == 1


def test_the_holdout_share_is_stable_and_its_goals_are_counted() -> None:
    members = [f"m-{i:04d}" for i in range(2000)]
    events = [joined(m) for m in members]
    # Every fourth member buys the next day.
    events += [bought(m, "2026-11-23T10:00:00+08:00") for m in members[::4]]
    first = run(journey(holdout=10), events, until="P3D")
    goals = first["goals"]["f"]
    held = goals["holdout"]["entered"]
    # 10% of 2,000 is 200; the binomial spread is about 13.
    assert 160 <= held <= 240
    assert goals["entered"] + held == 2000
    # The control group gets nothing from the flow: no coupon, their runs exit at the trigger.
    coupons = {d["member"] for d in sent(first, "coupon")}
    assert len(coupons) == 2000 - held - goals["converted"]
    assert first["nodes"]["f"]["t"] == 2000
    assert first["nodes"]["f"]["w"] == 2000 - held
    # Goals are counted for the control group too: of 500 buyers, about a tenth are held out.
    assert goals["converted"] + goals["holdout"]["converted"] == 500
    assert 0 < goals["holdout"]["converted"] < 100
    # The same members are held out every time.
    again = run(journey(holdout=10), events, until="P3D")
    assert again["goals"] == first["goals"]
    assert {d["member"] for d in sent(again, "coupon")} == coupons


def test_no_holdout_by_default() -> None:
    report = run(journey(), [joined(f"m-{i}") for i in range(300)], until="P3D")
    assert report["goals"]["f"]["holdout"] == {"entered": 0, "converted": 0}
    assert report["goals"]["f"]["entered"] == 300


def split_journey() -> dict[str, Any]:
    """join → A/B split 50/50 → a coupon (branch a) or a message (branch b)."""
    return flow(
        "f",
        [
            node("t", "trigger.member_joined"),
            node("ab", "condition.split", branches=HALVES),
            node("coupon", "action.send_coupon", coupon="c"),
            node("say", "action.send_message", text="hi"),
        ],
        [("t", "ab"), ("ab", "a", "coupon"), ("ab", "b", "say")],
        settings={"goal": {"event": "purchase", "within": "P7D"}},
    )


def test_figures_per_split_branch_and_the_ab_sentence() -> None:
    members = [f"m-{i:04d}" for i in range(1000)]
    first = run(split_journey(), [joined(m) for m in members], until="P1D")
    branch_a = {d["member"] for d in sent(first, "coupon")}
    branch_b = {d["member"] for d in sent(first, "say")}
    assert len(branch_a) + len(branch_b) == 1000
    # In branch a every tenth member buys; in branch b every fourth.
    buyers = sorted(branch_a)[::10] + sorted(branch_b)[::4]
    report = run(
        split_journey(),
        [joined(m) for m in members] + [bought(m, "2026-11-24T10:00:00+08:00") for m in buyers],
        until="P8D",
    )
    by_branch = report["goals"]["f"]["by_branch"]
    assert by_branch == {
        "ab:a": {"entered": len(branch_a), "converted": len(sorted(branch_a)[::10])},
        "ab:b": {"entered": len(branch_b), "converted": len(sorted(branch_b)[::4])},
    }
    (result,) = split_results(by_branch)
    assert result["outcome"] == "better"
    assert result["zh"].startswith("b 转化率比 a 高 ")
    assert result["zh"].endswith("置信度 99%")
    assert "percentage points better than a (99% confidence)" in result["en"]


def test_a_forked_journey_converts_once_and_every_branch_exits() -> None:
    forked = flow(
        "f",
        [
            node("t", "trigger.member_joined"),
            node("w1", "wait.delay", duration="P2D"),
            node("w2", "wait.delay", duration="P3D"),
            node("c1", "action.send_coupon", coupon="one"),
            node("c2", "action.send_coupon", coupon="two"),
        ],
        [("t", "w1"), ("t", "w2"), ("w1", "c1"), ("w2", "c2")],
        settings={"goal": {"event": "purchase", "within": "P7D"}},
    )
    report = run(forked, [joined("a"), joined("b"), bought("a", "2026-11-23T10:00:00+08:00")], until="P5D")
    assert sorted((d["node"], d["member"]) for d in sent(report)) == [("c1", "b"), ("c2", "b")]
    assert report["goals"]["f"]["converted"] == 1
    assert runs(report) == {"done": 1, "exited": 1}
