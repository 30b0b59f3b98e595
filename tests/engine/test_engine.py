"""The engine on both backends: event order, idempotency, re-entry, forks, failures, save and reload."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from documents import START, event, flow, node

from qunflow.engine import (
    NEXT,
    Context,
    Engine,
    FlowInvalid,
    NoConfig,
    Outcome,
    Registry,
    SimClock,
    Store,
    action,
    compile_flow,
    decode_events,
)
from qunflow.engine.errors import Conflict
from qunflow.engine.event import convert_events
from qunflow.engine.simulate import drive, report

T0 = "2026-11-22T10:00:00+08:00"


def at(hours: float = 0, days: float = 0) -> str:
    return (START + timedelta(hours=hours, days=days)).isoformat()


def ingest(engine: Engine, *events: dict[str, Any]) -> Any:
    """Ingest events as they arrive: the clock moves to the latest of them first."""
    decoded = convert_events(list(events))
    engine.clock.advance_to(max(e.at for e in decoded))  # type: ignore[attr-defined]
    return engine.ingest(decoded)


def member(engine: Engine, member_id: str) -> Any:
    return engine.store.all_members()[member_id]


def statuses(engine: Engine, flow_id: str = "f") -> dict[str, int]:
    found = engine.store.journey_statuses(flow_id).get(flow_id, {})
    return {k: v for k, v in found.items() if v}


def entered(engine: Engine, flow_id: str = "f") -> dict[str, int]:
    return {n: c.get("entered", 0) for n, c in engine.store.node_counts(flow_id).get(flow_id, {}).items()}


def advance(engine: Engine, clock: SimClock, to: datetime) -> None:
    """Step every run due up to `to`, moment by moment, as the scheduler would."""
    while (wake := engine.next_wake()) is not None and wake <= to:
        clock.advance_to(wake)
        engine.run_due()
    clock.advance_to(to)


# -- order of an event's effects ---------------------------------------------------------------------


def test_the_member_is_updated_before_triggers_run(engine: Engine) -> None:
    engine.deploy(
        flow(
            "f",
            [
                node("t", "trigger.member_joined"),
                node("in", "condition.in_group", groups=["g-1"]),
                node("yes", "action.send_message", text="{{ member.name }} / {{ member.attributes.city }}"),
            ],
            [("t", "in"), ("in", "true", "yes")],
        )
    )
    ingest(
        engine,
        event(
            "e1", "member_joined", T0, group="g-1", profile={"name": "小林", "attributes": {"city": "上海"}}
        ),
    )
    [delivery] = engine.store.deliveries()
    assert delivery["payload"]["text"] == "小林 / 上海"


def test_a_purchase_counts_before_the_purchase_trigger(engine: Engine) -> None:
    engine.deploy(
        flow(
            "f",
            [
                node("t", "trigger.purchase"),
                node("big", "condition.attribute", field="member.total_spend", op="gte", value=100),
                node("vip", "action.set_grade", grade="S"),
            ],
            [("t", "big"), ("big", "true", "vip")],
            settings={"reentry": "always"},
        )
    )
    ingest(engine, event("p1", "purchase", T0, data={"amount": 60}))
    assert member(engine, "m-1").grade is None
    ingest(engine, event("p2", "purchase", at(1), data={"amount": 40}))
    m = member(engine, "m-1")
    assert (m.grade, m.total_spend, m.order_count) == ("S", 100, 2)


def test_a_message_counts_as_activity_before_the_message_trigger(engine: Engine) -> None:
    engine.deploy(
        flow(
            "f",
            [
                node("t", "trigger.message"),
                node("act", "condition.active", within="PT1H", min_messages=2),
                node("hot", "action.add_tag", tags=["hot"]),
            ],
            [("t", "act"), ("act", "true", "hot")],
            settings={"reentry": "always"},
        )
    )
    ingest(engine, event("m1", "message", T0, data={"text": "hi"}))
    assert member(engine, "m-1").tags == []
    ingest(engine, event("m2", "message", at(0.5), data={"text": "hi again"}))
    assert member(engine, "m-1").tags == ["hot"]


def test_waiting_runs_resume_after_the_triggers_of_the_same_event(engine: Engine) -> None:
    engine.deploy(
        flow(
            "buyers",
            [node("t", "trigger.purchase"), node("tag", "action.add_tag", tags=["buyer"])],
            [("t", "tag")],
        )
    )
    engine.deploy(
        flow(
            "f",
            [
                node("t", "trigger.member_joined"),
                node("buy", "wait.for_event", event="purchase", timeout="P7D"),
                node("tagged", "condition.has_tag", tags=["buyer"]),
                node("yes", "action.add_points", points=10),
            ],
            [("t", "buy"), ("buy", "event", "tagged"), ("tagged", "true", "yes")],
        )
    )
    ingest(engine, event("j", "member_joined", T0, group="g"))
    ingest(engine, event("p", "purchase", at(1), data={"amount": 1}))
    assert member(engine, "m-1").points == 10
    assert statuses(engine) == {"done": 1}


def test_an_event_after_the_timeout_is_too_late_even_if_the_scheduler_lags(engine: Engine) -> None:
    engine.deploy(
        flow(
            "f",
            [
                node("t", "trigger.member_joined"),
                node("buy", "wait.for_event", event="purchase", timeout="PT1H"),
                node("bought", "action.add_tag", tags=["bought"]),
                node("late", "action.add_tag", tags=["timed_out"]),
            ],
            [("t", "buy"), ("buy", "event", "bought"), ("buy", "timeout", "late")],
        )
    )
    ingest(engine, event("j", "member_joined", T0, group="g"))
    # No `run_due` at the deadline: the purchase two hours later is seen first.
    ingest(engine, event("p", "purchase", at(2), data={"amount": 1}))
    assert member(engine, "m-1").tags == ["timed_out"]
    assert statuses(engine) == {"done": 1}


def test_runs_due_at_one_moment_go_in_the_order_they_became_due(engine: Engine, clock: SimClock) -> None:
    engine.deploy(
        flow(
            "f",
            [
                node("t", "trigger.member_joined"),
                node("morning", "wait.until_time", time="08:00"),
                node("coupon", "action.send_coupon", coupon="c"),
            ],
            [("t", "morning"), ("morning", "coupon")],
        )
    )
    for index, who in enumerate(["m-c", "m-a", "m-b"]):
        ingest(engine, event(f"j{index}", "member_joined", at(index), member=who, group="g"))
    advance(engine, clock, START + timedelta(days=1))
    found = sorted(engine.store.deliveries(), key=lambda d: d["id"])
    assert [d["member"] for d in found] == ["m-c", "m-a", "m-b"]
    assert len({d["at"] for d in found}) == 1


def test_small_batches_step_everything_in_the_same_order(
    store: Store, registry: Registry, clock: SimClock
) -> None:
    engine = Engine(store, registry, clock, batch_size=2)
    engine.deploy(
        flow(
            "f",
            [
                node("t", "trigger.member_joined"),
                node("morning", "wait.until_time", time="08:00"),
                node("coupon", "action.send_coupon", coupon="c"),
            ],
            [("t", "morning"), ("morning", "coupon")],
        )
    )
    who = ["m-e", "m-b", "m-d", "m-a", "m-c"]
    joins = [event(f"j{i}", "member_joined", at(i / 10), member=m, group="g") for i, m in enumerate(who)]
    result = ingest(engine, *joins, joins[0], joins[3])
    assert (result.accepted, result.duplicate) == (5, 2)
    clock.advance_to(START + timedelta(days=1))
    assert engine.run_due() == 5
    assert [d["member"] for d in sorted(store.deliveries(), key=lambda d: d["id"])] == who
    assert statuses(engine) == {"done": 5}


# -- idempotency -----------------------------------------------------------------------------------------


def test_an_event_id_is_acted_on_once(engine: Engine) -> None:
    engine.deploy(
        flow(
            "f",
            [node("t", "trigger.purchase"), node("p", "action.add_points", points=5)],
            [("t", "p")],
            settings={"reentry": "always"},
        )
    )
    same = event("p1", "purchase", T0, data={"amount": 10})
    first = ingest(engine, same, same)
    second = ingest(engine, same)
    assert (first.accepted, first.duplicate, second.accepted, second.duplicate) == (1, 1, 0, 1)
    m = member(engine, "m-1")
    assert (m.points, m.order_count, m.total_spend) == (5, 1, 10)
    assert statuses(engine) == {"done": 1}


def test_decode_events_accepts_one_or_many() -> None:
    one = decode_events(b'{"id": "a", "type": "x", "at": "2026-11-22T10:00:00+08:00"}')
    many = decode_events(b'[{"id": "a", "type": "x", "at": "2026-11-22T10:00:00+08:00"}]')
    assert [e.id for e in one] == [e.id for e in many] == ["a"]


# -- re-entry ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("reentry", "runs"), [("once", 1), ("always", 3), ("P30D", 2)])
def test_reentry_rules(engine: Engine, clock: SimClock, reentry: str, runs: int) -> None:
    engine.deploy(
        flow(
            "f",
            [node("t", "trigger.message"), node("p", "action.add_points", points=1)],
            [("t", "p")],
            settings={"reentry": reentry},
        )
    )
    for index, moment in enumerate([START, START + timedelta(days=29), START + timedelta(days=30)]):
        clock.advance_to(moment)
        ingest(engine, event(f"m{index}", "message", moment.isoformat()))
    assert statuses(engine) == {"done": runs}
    assert member(engine, "m-1").points == runs


def test_reentry_defaults_to_once(engine: Engine) -> None:
    engine.deploy(
        flow("f", [node("t", "trigger.message"), node("p", "action.add_points", points=1)], [("t", "p")])
    )
    ingest(engine, event("m1", "message", T0), event("m2", "message", at(1)))
    assert member(engine, "m-1").points == 1


def test_a_member_never_has_two_live_runs_of_a_flow(engine: Engine, clock: SimClock) -> None:
    engine.deploy(
        flow(
            "f",
            [
                node("t", "trigger.message"),
                node("w", "wait.delay", duration="P1D"),
                node("p", "action.add_points", points=1),
            ],
            [("t", "w"), ("w", "p")],
            settings={"reentry": "always"},
        )
    )
    ingest(engine, event("m1", "message", T0), event("m2", "message", T0))
    clock.advance_to(START + timedelta(hours=1))
    ingest(engine, event("m3", "message", at(1)))
    assert statuses(engine) == {"waiting": 1}
    advance(engine, clock, START + timedelta(days=1))
    assert statuses(engine) == {"done": 1}
    clock.advance_to(START + timedelta(days=1, hours=1))
    ingest(engine, event("m4", "message", at(25)))
    assert statuses(engine) == {"done": 1, "waiting": 1}


def test_two_triggers_of_one_flow_on_one_event_start_one_run(engine: Engine) -> None:
    engine.deploy(
        flow(
            "f",
            [
                node("any", "trigger.member_joined"),
                node("g1", "trigger.member_joined", groups=["g-1"]),
                node("p", "action.add_points", points=1),
            ],
            [("any", "p"), ("g1", "p")],
            settings={"reentry": "always"},
        )
    )
    ingest(engine, event("e1", "member_joined", T0, group="g-1"))
    assert member(engine, "m-1").points == 1
    assert statuses(engine) == {"done": 1}


def coupon_flow(coupon: str) -> dict[str, Any]:
    return flow(
        "f",
        [
            node("t", "trigger.member_joined"),
            node("w", "wait.delay", duration="P1D"),
            node("coupon", "action.send_coupon", coupon=coupon),
        ],
        [("t", "w"), ("w", "coupon")],
    )


def test_a_run_finishes_on_the_version_it_started_on(engine: Engine, clock: SimClock) -> None:
    assert engine.deploy(coupon_flow("v1")) == 1
    ingest(engine, event("j1", "member_joined", T0, member="old", group="g"))
    assert engine.deploy(coupon_flow("v2")) == 2
    ingest(engine, event("j2", "member_joined", at(1), member="new", group="g"))
    advance(engine, clock, START + timedelta(days=2))
    assert {d["member"]: d["payload"]["coupon"] for d in engine.store.deliveries()} == {
        "old": "v1",
        "new": "v2",
    }


def test_a_paused_flow_lets_waiting_runs_finish_but_takes_no_one_new(engine: Engine, clock: SimClock) -> None:
    engine.deploy(coupon_flow("c"))
    ingest(engine, event("j1", "member_joined", T0, member="in", group="g"))
    engine.set_paused("f", True)
    ingest(engine, event("j2", "member_joined", at(1), member="late", group="g"))
    advance(engine, clock, START + timedelta(days=2))
    assert [d["member"] for d in engine.store.deliveries()] == ["in"]
    engine.set_paused("f", False)
    ingest(engine, event("j3", "member_joined", at(49), member="later", group="g"))
    assert statuses(engine) == {"done": 1, "waiting": 1}


def test_an_invalid_draft_is_refused_and_nothing_is_stored(engine: Engine) -> None:
    with pytest.raises(FlowInvalid) as raised:
        engine.save_draft(
            flow("f", [node("t", "trigger.member_joined"), node("x", "action.nope")], [("t", "x")])
        )
    assert [(p.node, p.path) for p in raised.value.problems] == [("x", "type")]
    assert engine.store.list_flows() == []


def test_publishing_a_flow_that_starts_a_flow_there_is_not_names_the_node(engine: Engine) -> None:
    caller = flow(
        "caller",
        [node("t", "trigger.member_joined"), node("hand-on", "action.start_flow", flow="nurture")],
        [("t", "hand-on")],
    )
    engine.save_draft(caller)  # a draft may name a flow that is still to be made
    with pytest.raises(FlowInvalid) as raised:
        engine.publish("caller")
    assert [(p.node, p.path, p.message) for p in raised.value.problems] == [
        ("hand-on", "config.flow", "there is no flow `nurture`")
    ]
    assert engine.store.get_flow("caller").live_version is None
    # Once the flow exists (a draft is enough: it may be published later), and for the flow itself.
    engine.save_draft(flow("nurture", [node("t", "trigger.event", event="never")]))
    assert engine.publish("caller") == 1
    # While `nurture` is not live, the member goes on without it.
    ingest(engine, event("j1", "member_joined", T0, member="m-1", group="g"))
    assert statuses(engine, "caller") == {"done": 1}
    assert statuses(engine, "nurture") == {}
    itself = flow(
        "self", [node("t", "trigger.member_joined"), node("again", "action.start_flow", flow="self")]
    )
    itself["edges"] = [{"from": "t", "to": "again"}]
    assert engine.deploy(itself) == 1


# -- forks and exit ----------------------------------------------------------------------------------------


def test_a_fork_runs_both_branches(engine: Engine, clock: SimClock) -> None:
    engine.deploy(
        flow(
            "f",
            [
                node("t", "trigger.member_joined"),
                node("a", "action.add_tag", tags=["a"]),
                node("w", "wait.delay", duration="PT1H"),
                node("b", "action.add_tag", tags=["b"]),
                node("c", "action.send_coupon", coupon="c1"),
            ],
            [("t", "a"), ("t", "w"), ("w", "b"), ("w", "c")],
        )
    )
    ingest(engine, event("e1", "member_joined", T0, group="g"))
    assert member(engine, "m-1").tags == ["a"]
    assert statuses(engine) == {"waiting": 1}
    advance(engine, clock, START + timedelta(hours=1))
    assert sorted(member(engine, "m-1").tags) == ["a", "b"]
    assert [d["node"] for d in engine.store.deliveries()] == ["c"]
    assert statuses(engine) == {"done": 1}
    assert entered(engine) == {"t": 1, "a": 1, "w": 1, "b": 1, "c": 1}


def test_exit_ends_the_whole_journey(engine: Engine, clock: SimClock) -> None:
    engine.deploy(
        flow(
            "f",
            [
                node("t", "trigger.member_joined"),
                node("w", "wait.delay", duration="P1D"),
                node("c", "action.send_coupon", coupon="c1"),
                node("w2", "wait.delay", duration="PT1H"),
                node("x", "action.exit"),
            ],
            [("t", "w"), ("w", "c"), ("t", "w2"), ("w2", "x")],
        )
    )
    ingest(engine, event("e1", "member_joined", T0, group="g"))
    advance(engine, clock, START + timedelta(days=2))
    assert engine.store.deliveries() == []
    assert statuses(engine) == {"exited": 1}
    assert engine.store.runs(status="waiting") == []
    assert entered(engine) == {"t": 1, "w": 1, "w2": 1, "x": 1}


def test_exit_without_a_fork(engine: Engine) -> None:
    engine.deploy(
        flow(
            "f",
            [
                node("t", "trigger.member_joined"),
                node("x", "action.exit"),
            ],
            [("t", "x")],
        )
    )
    ingest(engine, event("e1", "member_joined", T0, group="g"))
    assert statuses(engine) == {"exited": 1}


# -- failures and retry ------------------------------------------------------------------------------------

FLAKY = {"broken": True}


@action("test.flaky", title={"zh": "不稳定", "en": "Flaky"})
def flaky(ctx: Context, config: NoConfig) -> Outcome:
    if FLAKY["broken"]:
        raise ValueError("the CRM is down")
    ctx.deliver("message", {"text": "ok", "to": "member"})
    return NEXT


def test_a_step_that_raises_fails_its_run_and_retry_runs_it_again(
    store: Store, registry: Registry, clock: SimClock
) -> None:
    registry.add(flaky)
    engine = Engine(store, registry, clock)
    engine.deploy(
        flow(
            "f",
            [
                node("t", "trigger.member_joined"),
                node("tag", "action.add_tag", tags=["x"]),
                node("crm", "test.flaky"),
                node("after", "action.add_points", points=1),
            ],
            [("t", "tag"), ("tag", "crm"), ("crm", "after")],
        )
    )
    FLAKY["broken"] = True
    try:
        ingest(
            engine,
            event("e1", "member_joined", T0, group="g"),
            event("e2", "member_joined", T0, member="m-2", group="g"),
        )
        failed = store.runs(status="failed")
        assert len(failed) == 2
        assert all(r.error.startswith("crm: ValueError: the CRM is down") for r in failed)
        assert all(r.node == "crm" for r in failed)
        assert member(engine, "m-1").tags == ["x"]  # what happened before the failing node stays
        assert statuses(engine) == {"failed": 2}
        FLAKY["broken"] = False
        engine.retry(failed[0].id)
    finally:
        FLAKY["broken"] = True
    assert statuses(engine) == {"done": 1, "failed": 1}
    assert [d["member"] for d in store.deliveries()] == [failed[0].member_id]
    assert member(engine, failed[0].member_id).points == 1
    with pytest.raises(Conflict):
        engine.retry(failed[0].id)


# -- save and reload half-way ----------------------------------------------------------------------------

JOURNEY = flow(
    "j",
    [
        node("joined", "trigger.member_joined"),
        node("tag_new", "action.add_tag", tags=["new"]),
        node("wait_1d", "wait.delay", duration="P1D"),
        node("hello", "action.send_message", text="{{ member.name }} 来自 {{ event.group }}"),
        node("coupon", "action.send_coupon", coupon="welcome"),
        node("buy", "wait.for_event", event="purchase", timeout="P2D"),
        node("thanks", "action.send_message", text="谢谢 {{ member.name }}，{{ event.data.product }}"),
        node("active", "condition.active", within="P3D"),
        node("vip", "action.set_grade", grade="A"),
        node("nudge", "action.add_points", points=-1),
    ],
    [
        ("joined", "tag_new"),
        ("tag_new", "wait_1d"),
        ("wait_1d", "hello"),
        ("hello", "coupon"),
        ("coupon", "buy"),
        ("buy", "event", "thanks"),
        ("buy", "timeout", "active"),
        ("active", "true", "vip"),
        ("active", "false", "nudge"),
    ],
)


def journey_events() -> list[Any]:
    raw = []
    for i in range(12):
        m = f"m-{i:02d}"
        start = START + timedelta(minutes=7 * i)
        raw.append(
            event(
                f"j{i}", "member_joined", start.isoformat(), member=m, group="g", profile={"name": f"成员{i}"}
            )
        )
        if i % 3 == 0:
            moment = start + timedelta(days=1, hours=5)
            raw.append(
                event(f"b{i}", "purchase", moment.isoformat(), member=m, data={"amount": 9, "product": "茶"})
            )
        if i % 3 == 1:
            raw.append(event(f"t{i}", "message", (start + timedelta(days=2)).isoformat(), member=m))
    return sorted(convert_events(raw), key=lambda e: e.at)


def outcome(store: Store, registry: Registry) -> dict[str, Any]:
    result = report(store, [compile_flow(JOURNEY, registry)])
    result["keys"] = sorted(d["key"] for d in store.deliveries())
    result["counters"] = store.node_counts()
    return result


def test_saving_and_reloading_half_way_changes_nothing(tmp_path: Path, registry: Registry) -> None:
    """Half a run on a SQLite file, close everything, open the file again and finish."""
    assert_reload_changes_nothing(
        f"sqlite:///{tmp_path / 'halves.db'}", f"sqlite:///{tmp_path / 'whole.db'}", registry
    )


def test_reloading_on_either_backend_matches_an_uninterrupted_sqlite_run(
    store_url: str, registry: Registry
) -> None:
    assert_reload_changes_nothing(store_url, "sqlite://", registry)


def assert_reload_changes_nothing(url: str, whole_url: str, registry: Registry) -> None:
    events = journey_events()
    end = START + timedelta(days=5)
    half = START + timedelta(days=1, minutes=30)

    whole = Store.open(whole_url)
    clock = SimClock(START)
    engine = Engine(whole, registry, clock)
    engine.deploy(JOURNEY)
    drive(engine, clock, events, end)
    expected = outcome(whole, registry)
    whole.close()

    first = Store.open(url)
    clock = SimClock(START)
    engine = Engine(first, registry, clock)
    engine.deploy(JOURNEY)
    drive(engine, clock, [e for e in events if e.at <= half], half)
    waiting = first.waiting_by_node("j")
    assert waiting.get("wait_1d") and waiting.get("buy"), waiting  # both kinds of wait are parked
    first.close()
    del engine

    second = Store.open(url)
    clock = SimClock(half)
    engine = Engine(second, registry, clock)
    drive(engine, clock, [e for e in events if e.at > half], end)
    got = outcome(second, registry)
    second.close()

    assert got == expected
    assert expected["runs"]["j"] == {"done": 12, "waiting": 0, "active": 0, "exited": 0, "failed": 0}
    assert len([d for d in expected["deliveries"] if d["kind"] == "coupon"]) == 12
    assert len([d for d in expected["deliveries"] if d["kind"] == "message"]) == 4 + 12
    # The event that started a run is read back from the store for a run woken by the clock.
    assert {d["payload"]["text"] for d in expected["deliveries"] if d["node"] == "hello"} == {
        f"成员{i} 来自 g" for i in range(12)
    }
