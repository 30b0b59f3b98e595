"""A `wait.for_event` whose event arrives at the very moment of its timeout resumes exactly once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from qunflow.engine import Engine, Event, Registry, SimClock, Store

FLOW = {
    "id": "buy",
    "settings": {"reentry": "always"},
    "nodes": [
        {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
        {"id": "w", "type": "wait.for_event", "config": {"event": "purchase", "timeout": "PT1M"}},
        {"id": "bought", "type": "action.add_tag", "config": {"tags": ["bought"]}},
        {"id": "late", "type": "action.add_tag", "config": {"tags": ["late"]}},
    ],
    "edges": [
        {"from": "start", "to": "w"},
        {"from": "w", "port": "event", "to": "bought"},
        {"from": "w", "port": "timeout", "to": "late"},
    ],
}


def waiting(engine: Engine, clock: SimClock, members: int) -> None:
    engine.deploy(FLOW)
    engine.ingest(
        [Event(id=f"s-{i}", type="signup", at=clock.now(), member=f"m-{i}") for i in range(members)]
    )
    clock.advance_to(clock.now() + timedelta(minutes=1))  # the timeout moment


def purchases(clock: SimClock, members: int) -> list[Event]:
    return [
        Event(id=f"p-{i}", type="purchase", at=clock.now(), member=f"m-{i}", data={"amount": 10})
        for i in range(members)
    ]


def resumed(store: Store) -> dict[str, int]:
    counts = store.node_counts("buy")["buy"]
    return {port: counts["w"].get(f"port:{port}", 0) for port in ("event", "timeout")}


def test_the_event_first_takes_the_event_port_and_the_timeout_finds_nothing(
    engine: Engine, store: Store, clock: SimClock
) -> None:
    waiting(engine, clock, 1)
    engine.ingest(purchases(clock, 1))

    assert engine.run_due() == 0
    assert resumed(store) == {"event": 1, "timeout": 0}
    assert store.all_members()["m-0"].tags == ["bought"]


def test_the_timeout_first_takes_the_timeout_port_and_the_event_resumes_nothing(
    engine: Engine, store: Store, clock: SimClock
) -> None:
    waiting(engine, clock, 1)
    assert engine.run_due() == 1
    engine.ingest(purchases(clock, 1))

    assert resumed(store) == {"event": 0, "timeout": 1}
    assert store.all_members()["m-0"].tags == ["late"]


@pytest.mark.parametrize("stepper", ["run_due", "step_leased"])
def test_event_and_timeout_racing_in_two_threads_resume_each_run_once(
    store: Store, registry: Registry, clock: SimClock, stepper: str
) -> None:
    members = 300
    ingester, timer = (
        Engine(store, registry, clock, batch_size=25),
        Engine(store, registry, clock, batch_size=25),
    )
    waiting(ingester, clock, members)
    timer.flows.reload()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def ingest() -> None:
        start.wait()
        ingester.ingest(purchases(clock, members))

    def time_out() -> None:
        start.wait()
        if stepper == "run_due":
            timer.run_due()
        else:
            while timer.step_leased("timer", timedelta(seconds=30)).leased:
                pass

    def guarded(work: object) -> object:
        def run() -> None:
            try:
                work()  # type: ignore[operator]
            except BaseException as error:  # reported below, with the figures
                errors.append(error)

        return run

    threads = [threading.Thread(target=guarded(w)) for w in (ingest, time_out)]  # type: ignore[arg-type]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    timer.run_due()

    split = resumed(store)
    tags = [tuple(m.tags) for m in store.all_members().values()]
    print(f"\nevent at the timeout, {store.dialect}, {stepper}: {members} runs resumed {split}")
    assert errors == []
    assert split["event"] + split["timeout"] == members
    assert set(tags) <= {("bought",), ("late",)} and len(tags) == members
    assert store.journey_statuses("buy")["buy"]["done"] == members
