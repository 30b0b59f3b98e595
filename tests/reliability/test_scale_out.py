"""Scale-out: a resume storm (every parked run due at once) with 1 and with 4 `qunflow worker`
processes on PostgreSQL. Reports the ratio (DESIGN §13 budgets 4 workers at 2.5× one); asserts only
that every run was stepped exactly once. Run with `pytest -s` to see the figures."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

from fleet import Fleet, delay_flow, wait_until
from sqlalchemy import text

from qunflow.engine import Engine, Event, SimClock, Store
from qunflow.engine.clock import to_us

RUNS = 10_000


def park(store: Store, prefix: str) -> None:
    """RUNS journeys waiting a day (under a simulated clock: parking is not what is measured)."""
    clock = SimClock(datetime.now(UTC))
    engine = Engine(store, clock=clock)
    engine.flows.reload()
    events = [
        Event(id=f"{prefix}-{i}", type="signup", at=clock.now(), member=f"{prefix}-{i}") for i in range(RUNS)
    ]
    engine.ingest(events)


def waiting(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM runs WHERE status = 'waiting'")).scalar_one()


def storm(store: Store, fleet: Fleet, workers: int) -> float:
    """Start the workers, let them settle, make every parked run due at once; seconds until none waits."""
    for slot in range(workers):
        fleet.start(slot)
    time.sleep(3)  # started and idle
    with store.transaction() as conn:
        # As if they had parked a day ago: `wait.delay` counts its day from `entered_at`.
        now = to_us(datetime.now(UTC))
        conn.execute(
            text("UPDATE runs SET wake_at = :now, entered_at = :then WHERE status = 'waiting'"),
            {"now": now, "then": now - 86_400_000_000},
        )
    started = time.monotonic()
    assert wait_until(lambda: waiting(store) == 0, timeout=120, step=0.05), fleet.log_tail()
    seconds = time.monotonic() - started
    fleet.stop()
    fleet.procs.clear()
    return seconds


def test_four_workers_against_one_on_a_resume_storm(pg_url: str, tmp_path: Path) -> None:
    store = Store.open(pg_url)
    Engine(store).deploy(delay_flow(delay="P1D"))
    fleet = Fleet(pg_url, tmp_path, receiver=None, lease=30.0, poll=0.2)

    park(store, "one")
    alone = storm(store, fleet, 1)
    park(store, "four")
    together = storm(store, fleet, 4)

    counts = store.node_counts("storm")["storm"]
    report = {
        "runs_per_storm": RUNS,
        "one_worker_seconds": round(alone, 2),
        "four_workers_seconds": round(together, 2),
        "one_worker_runs_per_second": round(RUNS / alone),
        "four_workers_runs_per_second": round(RUNS / together),
        "ratio": round(alone / together, 2),
        "steps_after_wait": counts["wait"].get("port:next", 0),
    }
    (tmp_path / "figures.json").write_text(json.dumps(report, indent=2))
    print("\nscale-out resume storm:", json.dumps(report))
    assert report["steps_after_wait"] == 2 * RUNS  # each run stepped once, by whichever worker
    assert counts["coupon"]["entered"] == 2 * RUNS
