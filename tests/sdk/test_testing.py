"""`qunflow.testing`: one node or a small flow in a test, on the real engine, under the simulated clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from qunflow.engine.errors import UserError
from qunflow.sdk import FALSE, NEXT, TRUE, Config, Context, Go, Outcome, WaitFor, WaitUntil, action
from qunflow.testing import START, run_flow, run_node


def test_an_action_reports_its_member_changes() -> None:
    result = run_node("action.add_tag", {"tags": ["vip"]}, member={"id": "m-1", "tags": ["new"]})
    assert result.outcome == NEXT
    assert result.changes == {"tags": (["new"], ["new", "vip"])}
    assert result.member is not None and result.member.tags == ["new", "vip"]
    assert result.deliveries == []


def test_a_delivery_is_reported_with_its_payload_and_member() -> None:
    result = run_node(
        "action.send_message", {"text": "你好 {{ member.name }}"}, member={"id": "m-7", "name": "小林"}
    )
    assert result.deliveries == [
        {"kind": "message", "payload": {"text": "你好 小林", "to": "member"}, "member": "m-7"}
    ]


def test_a_condition_sees_the_event_and_the_member() -> None:
    rich = {"id": "m-1", "total_spend": 500}
    assert (
        run_node(
            "condition.attribute", {"field": "member.total_spend", "op": "gte", "value": 300}, member=rich
        ).outcome
        == TRUE
    )
    assert (
        run_node(
            "condition.attribute", {"field": "member.total_spend", "op": "gte", "value": 900}, member=rich
        ).outcome
        == FALSE
    )
    # The event updates the member before the node runs (DESIGN §5 "Order").
    bought = {"type": "purchase", "data": {"amount": 450}}
    result = run_node(
        "condition.attribute",
        {"field": "member.total_spend", "op": "gte", "value": 900},
        member=rich,
        event=bought,
    )
    assert result.outcome == TRUE


def test_waits_answer_with_the_simulated_time() -> None:
    assert run_node("wait.delay", {"duration": "P1D"}).outcome == WaitUntil(START + timedelta(days=1))
    result = run_node("wait.for_event", {"event": "purchase", "timeout": "PT2H"}, now=START)
    assert result.outcome == WaitFor("purchase", until=START + timedelta(hours=2))


def test_quiet_hours_come_from_the_flow_settings() -> None:
    late = datetime.fromisoformat("2026-01-05T23:00:00+08:00")
    held = run_node(
        "action.send_message",
        {"text": "晚安"},
        now=late,
        settings={"quiet_hours": {"start": "22:00", "end": "08:00"}},
    )
    assert held.outcome == WaitUntil(datetime.fromisoformat("2026-01-06T08:00:00+08:00"))
    assert held.deliveries == []


def test_a_trigger_says_whether_the_event_starts_a_run() -> None:
    config = {"min_amount": 100}
    assert (
        run_node("trigger.purchase", config, event={"type": "purchase", "data": {"amount": 150}}).outcome
        is True
    )
    assert (
        run_node("trigger.purchase", config, event={"type": "purchase", "data": {"amount": 50}}).outcome
        is False
    )


class Score(Config):
    bonus: int = 1


@action("acme.score", ports=("high", "low"), title={"zh": "评分", "en": "Score"})
def score(ctx: Context, config: Score) -> Outcome:
    total = ctx.member.points + config.bonus
    ctx.set_var("score", total)
    return Go("high" if total >= 10 else "low")


def test_a_custom_node_runs_from_its_function_with_a_config_struct() -> None:
    result = run_node(score, Score(bonus=5), member={"id": "m-1", "points": 7})
    assert result.outcome == Go("high") and result.vars == {"score": 12}
    assert run_node(score, member={"id": "m-1"}).outcome == Go("low")


def test_a_step_that_raises_raises_in_the_test() -> None:
    @action("acme.broken", title={"zh": "坏", "en": "Broken"})
    def broken(ctx: Context, config: Score) -> Outcome:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_node(broken)


def test_an_unknown_type_is_named() -> None:
    with pytest.raises(UserError, match="acme.nope"):
        run_node("acme.nope")


def test_run_flow_reports_deliveries_members_and_runs() -> None:
    flow = {
        "id": "f",
        "nodes": [
            {"id": "joined", "type": "trigger.member_joined"},
            {"id": "score", "type": "acme.score", "config": {"bonus": 10}},
            {"id": "coupon", "type": "action.send_coupon", "config": {"coupon": "c-1"}},
        ],
        "edges": [{"from": "joined", "to": "score"}, {"from": "score", "to": "coupon", "port": "high"}],
    }
    events = [
        {
            "id": "e-1",
            "type": "member_joined",
            "member": "m-1",
            "group": "g",
            "at": "2026-01-05T10:00:00+08:00",
        },
    ]
    report = run_flow(flow, events, until="P1D", nodes=[score])
    assert [d["payload"] for d in report.sent(node="coupon", member="m-1")] == [{"coupon": "c-1"}]
    assert report.runs["f"]["done"] == 1 and "m-1" in report.members
