"""Run leases: a worker that dies loses its runs after the lease; a late worker steps nothing."""

from __future__ import annotations

from datetime import timedelta

from fleet import delay_flow

from qunflow.engine import Engine, Event, SimClock, Store
from qunflow.engine.clock import to_us
from qunflow.engine.worker import Worker

LEASE = timedelta(seconds=30)


def park(engine: Engine, clock: SimClock, count: int) -> None:
    engine.deploy(delay_flow(delay="PT1M"))
    engine.ingest([Event(id=f"e-{i}", type="signup", at=clock.now(), member=f"m-{i}") for i in range(count)])
    clock.advance_to(clock.now() + timedelta(minutes=1))


def steps_after_wait(store: Store) -> int:
    return store.node_counts("storm")["storm"]["wait"].get("port:next", 0)


def test_a_dead_workers_runs_are_taken_over_after_its_lease(
    engine: Engine, store: Store, clock: SimClock
) -> None:
    park(engine, clock, 5)
    now = to_us(clock.now())
    held = store.lease_due(now, 100, "dead", now + to_us_delta(LEASE))  # leased, then the worker died
    assert len(held) == 5

    assert engine.step_leased("alive", LEASE, clock.now()).leased == 0
    assert engine.run_due(clock.now()) == 0  # the in-process worker respects leases too
    clock.advance_to(clock.now() + LEASE)
    taken = engine.step_leased("alive", LEASE, clock.now())

    assert (taken.leased, taken.stepped) == (5, 5)
    assert steps_after_wait(store) == 5
    assert store.journey_statuses("storm")["storm"]["done"] == 5


def test_a_worker_that_lost_its_lease_steps_nothing(engine: Engine, store: Store, clock: SimClock) -> None:
    park(engine, clock, 3)
    now = to_us(clock.now())
    slow = store.lease_due(now, 100, "slow", now + to_us_delta(LEASE))
    clock.advance_to(clock.now() + LEASE + timedelta(seconds=1))
    assert engine.step_leased("fast", LEASE, clock.now()).stepped == 3

    with store.transaction() as conn:  # the slow worker comes back to step what it leased
        late = store.take_leased(conn, slow, "slow", to_us(clock.now()))

    assert late == []
    assert steps_after_wait(store) == 3


def test_a_step_clears_the_lease(engine: Engine, store: Store, clock: SimClock) -> None:
    # A run that waits again after its step must be due again for every worker, not held.
    engine.deploy(
        {
            "id": "twice",
            "nodes": [
                {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
                {"id": "w1", "type": "wait.delay", "config": {"duration": "PT1M"}},
                {"id": "w2", "type": "wait.delay", "config": {"duration": "PT1M"}},
            ],
            "edges": [{"from": "start", "to": "w1"}, {"from": "w1", "to": "w2"}],
        }
    )
    engine.ingest([Event(id="e-1", type="signup", at=clock.now(), member="m-1")])
    clock.advance_to(clock.now() + timedelta(minutes=1))
    assert engine.step_leased("a", timedelta(hours=1), clock.now()).stepped == 1
    clock.advance_to(clock.now() + timedelta(minutes=1))

    assert engine.step_leased("b", timedelta(hours=1), clock.now()).stepped == 1
    assert store.journey_statuses("twice")["twice"]["done"] == 1


def test_a_stopping_worker_gives_its_leases_back(engine: Engine, store: Store, clock: SimClock) -> None:
    park(engine, clock, 2)
    now = to_us(clock.now())
    store.lease_due(now, 100, "leaving", now + to_us_delta(LEASE))

    assert store.release_leases("leaving") == 2
    assert engine.step_leased("other", LEASE, clock.now()).stepped == 2


def test_the_worker_loop_sleeps_by_the_injected_clock(engine: Engine, store: Store, clock: SimClock) -> None:
    park(engine, clock, 0)
    engine.ingest([Event(id="e-late", type="signup", at=clock.now(), member="m-late")])
    sleeps: list[float] = []

    def wait(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance_to(clock.now() + timedelta(seconds=seconds))
        if len(sleeps) == 3:
            worker.stop.set()

    worker = Worker(engine, lease=LEASE, poll=timedelta(seconds=25), wait=wait)
    worker.run()

    # 60 s to the wake in sleeps of at most `poll`; stopped before the round that steps the run.
    assert sleeps == [25.0, 25.0, 10.0]
    assert store.journey_statuses("storm")["storm"]["waiting"] == 1
    done = worker.round()
    assert (done.stepped, done.dispatch.recorded) == (1, 1)
    assert [d["status"] for d in store.deliveries(flow_id="storm")] == ["recorded"]


def to_us_delta(span: timedelta) -> int:
    return int(span.total_seconds() * 1_000_000)
