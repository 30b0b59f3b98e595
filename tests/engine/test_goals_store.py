"""Goals on a real store (SQLite and PostgreSQL): the journeys watched, conversions in a later batch
than the start, the counters per node and port, the runs' exit reason, the daily counters and the
`flows` report rows."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from documents import START, event, flow, node

from qunflow.engine import Engine, SimClock, Store
from qunflow.engine.event import convert_events
from qunflow.engine.results import flows_report

HALVES = [{"port": "a", "percent": 50}, {"port": "b", "percent": 50}]


def at(days: float = 0, hours: float = 0) -> str:
    return (START + timedelta(days=days, hours=hours)).isoformat()


def ingest(engine: Engine, *events: dict[str, Any]) -> None:
    engine.ingest(convert_events(list(events)))


def goal_flow(exit: bool = True, holdout: int = 0) -> dict[str, Any]:
    """join → split a/b → wait a day → coupon (a) | message (b)."""
    return flow(
        "f",
        [
            node("t", "trigger.member_joined"),
            node("ab", "condition.split", branches=HALVES),
            node("w", "wait.delay", duration="P1D"),
            node("coupon", "action.send_coupon", coupon="c"),
            node("say", "action.send_message", text="hi"),
        ],
        [("t", "ab"), ("ab", "a", "w"), ("ab", "b", "say"), ("w", "coupon")],
        settings={"goal": {"event": "purchase", "within": "P3D", "exit": exit}, "holdout": holdout},
    )


def joins(engine: Engine, members: list[str]) -> None:
    ingest(engine, *(event(f"j-{m}", "member_joined", at(), member=m, group="g") for m in members))


def branch_of(store: Store, member: str) -> str:
    (run,) = [r for r in store.runs(flow_id="f", member_id=member)]
    return "a" if run.node in ("w", "coupon") else "b"


def test_a_later_event_converts_a_stored_journey_and_counts_its_path(
    engine: Engine, store: Store, clock: SimClock
) -> None:
    engine.deploy(goal_flow())
    members = [f"m-{i}" for i in range(12)]
    joins(engine, members)
    branches = {m: branch_of(store, m) for m in members}
    in_a = [m for m in members if branches[m] == "a"]
    in_b = [m for m in members if branches[m] == "b"]
    assert in_a and in_b
    # One member of each branch buys an hour later, in a batch of its own: a's run is waiting.
    clock.advance_to(START + timedelta(hours=1))
    ingest(
        engine,
        event("p-a", "purchase", at(hours=1), member=in_a[0], data={"amount": 10}),
        event("p-b", "purchase", at(hours=1), member=in_b[0], data={"amount": 10}),
    )
    (converted_a,) = store.runs(flow_id="f", member_id=in_a[0])
    assert (converted_a.status, converted_a.reason, converted_a.path) == ("exited", "goal", None)
    assert converted_a.converted_at is not None
    (converted_b,) = store.runs(flow_id="f", member_id=in_b[0])
    assert (converted_b.status, converted_b.reason) == ("done", None)

    clock.advance_to(START + timedelta(days=1, seconds=1))
    engine.run_due()
    counts = store.node_counts("f")["f"]
    assert counts[""] == {"entered": 12, "converted": 2}
    assert counts["t"]["converted"] == 2 and counts["t"]["entered"] == 12
    assert counts["ab"]["converted:port:a"] == 1 and counts["ab"]["port:a"] == len(in_a)
    assert counts["ab"]["converted:port:b"] == 1 and counts["ab"]["port:b"] == len(in_b)
    assert counts["w"]["converted"] == 1 and counts["w"]["entered"] == len(in_a)
    assert "converted" not in counts.get("coupon", {})
    assert counts["coupon"]["entered"] == len(in_a) - 1
    assert counts["say"]["converted"] == 1
    rows = store.goal_journeys("f")
    assert len(rows) == 12
    assert sorted(r["member_id"] for r in rows if r["converted_at"] is not None) == sorted([in_a[0], in_b[0]])


def test_after_converting_with_exit_false_every_node_passed_counts_at_once(
    engine: Engine, store: Store, clock: SimClock
) -> None:
    engine.deploy(goal_flow(exit=False))
    members = [f"m-{i}" for i in range(12)]
    joins(engine, members)
    in_a = [m for m in members if branch_of(store, m) == "a"]
    clock.advance_to(START + timedelta(hours=1))
    ingest(engine, event("p-1", "purchase", at(hours=1), member=in_a[0]))
    ingest(engine, event("p-2", "purchase", at(hours=2), member=in_a[0]))
    clock.advance_to(START + timedelta(days=1, seconds=1))
    engine.run_due()
    counts = store.node_counts("f")["f"]
    assert counts[""]["converted"] == 1
    assert counts["w"]["converted"] == 1
    assert counts["w"]["converted:port:next"] == 1
    assert counts["coupon"]["converted"] == 1 and counts["coupon"]["entered"] == len(in_a)
    (run,) = store.runs(flow_id="f", member_id=in_a[0])
    assert (run.status, run.reason) == ("done", None)


def test_a_purchase_after_the_window_does_not_convert(engine: Engine, store: Store, clock: SimClock) -> None:
    engine.deploy(goal_flow())
    joins(engine, ["m-1"])
    clock.advance_to(START + timedelta(days=4))
    engine.run_due()
    ingest(engine, event("p-1", "purchase", at(days=3, hours=1), member="m-1"))
    assert store.node_counts("f")["f"][""] == {"entered": 1}
    assert store.goal_journeys("f")[0]["converted_at"] is None


def test_held_out_members_exit_at_the_trigger_and_still_convert(
    engine: Engine, store: Store, clock: SimClock
) -> None:
    engine.deploy(goal_flow(holdout=50))
    members = [f"m-{i}" for i in range(40)]
    joins(engine, members)
    runs = [r for m in members for r in store.runs(flow_id="f", member_id=m)]
    held = [r.member_id for r in runs if r.reason == "holdout"]
    assert 5 < len(held) < 35
    for member in held:
        (run,) = store.runs(flow_id="f", member_id=member)
        assert (run.node, run.status) == ("t", "exited")
    clock.advance_to(START + timedelta(hours=1))
    ingest(engine, event("p-1", "purchase", at(hours=1), member=held[0]))
    counts = store.node_counts("f")["f"][""]
    assert counts == {"entered": 40 - len(held), "holdout:entered": len(held), "holdout:converted": 1}

    # The flows report (DESIGN §17) for the day they entered, in the flow's timezone.
    (row,) = flows_report(store, date(2026, 11, 22), date(2026, 11, 22))
    assert row["flow"] == "f"
    assert (row["entered"], row["converted"], row["holdout_entered"], row["holdout_converted"]) == (
        40 - len(held),
        0,
        len(held),
        1,
    )
    assert row["conversion_rate"] == 0
    assert row["holdout_conversion_rate"] == 1 / len(held)
    assert row["lift"] == -100 / len(held)
    assert (row["messages_sent"], row["deliveries_failed"]) == (0, 0)
    (empty,) = flows_report(store, date(2026, 11, 23), date(2026, 11, 30))
    assert (empty["entered"], empty["conversion_rate"], empty["lift"]) == (0, None, None)


def test_the_flows_report_counts_messages_sent_and_deliveries_failed_in_its_days(
    engine: Engine, store: Store, clock: SimClock
) -> None:
    from sqlalchemy import update

    from qunflow.engine.store import schema as t

    hello = flow(
        "hello",
        [node("t", "trigger.member_joined"), node("say", "action.send_message", text="hi")],
        [("t", "say")],
        timezone="Asia/Shanghai",
    )
    engine.deploy(hello)
    joins(engine, ["m-1", "m-2", "m-3"])
    # A day later (22 Nov 10:00 + 1 day in Shanghai), one more.
    clock.advance_to(START + timedelta(days=1))
    ingest(engine, event("j-m-4", "member_joined", at(days=1), member="m-4", group="g"))
    ids = {d["member"]: d["id"] for d in store.deliveries(flow_id="hello")}
    c = t.deliveries.c
    with store.transaction() as conn:
        conn.execute(update(t.deliveries).where(c.id.in_([ids["m-1"], ids["m-4"]])).values(status="sent"))
        conn.execute(update(t.deliveries).where(c.id == ids["m-2"]).values(status="failed"))
    (first,) = flows_report(store, date(2026, 11, 22), date(2026, 11, 22))
    assert (first["flow"], first["entered"], first["messages_sent"], first["deliveries_failed"]) == (
        "hello",
        3,
        1,
        1,
    )
    # A flow without a goal has no conversion figures.
    assert (first["converted"], first["conversion_rate"], first["lift"]) == (None, None, None)
    (both,) = flows_report(store, date(2026, 11, 22), date(2026, 11, 23))
    assert (both["entered"], both["messages_sent"], both["deliveries_failed"]) == (4, 2, 1)


def test_open_journeys_convert_after_a_pause_a_new_version_without_a_goal_and_a_restart(
    engine: Engine, store: Store, registry: Any, clock: SimClock
) -> None:
    engine.deploy(goal_flow())
    joins(engine, ["m-1", "m-2"])
    engine.set_paused("f", True)
    clock.advance_to(START + timedelta(hours=1))
    ingest(engine, event("p-1", "purchase", at(hours=1), member="m-1"))
    assert store.node_counts("f")["f"][""]["converted"] == 1
    # The flow goes on without a goal; a process started now still converts the open journey.
    engine.set_paused("f", False)
    engine.deploy({**goal_flow(), "settings": {}})
    restarted = Engine(store, registry, clock)
    ingest(restarted, event("p-2", "purchase", at(hours=2), member="m-2"))
    assert store.node_counts("f")["f"][""]["converted"] == 2
