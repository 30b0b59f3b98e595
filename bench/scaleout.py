"""Scale-out on PostgreSQL (DESIGN §13): a resume storm, every parked run due at once, stepped by 1 and
then by 4 `qunflow worker` processes on one database.

Each storm parks N journeys in the one-day wait of `delay_flow` (under a simulated clock: parking is
not what is measured), starts the workers, lets them settle, then makes every run due in one UPDATE;
its time runs from that commit until no run waits.

Time waiting on the database: while a storm runs, a sampler reads `pg_stat_activity` every
`SAMPLE_S` for the workers' connections (they connect with their own `application_name`). A worker is
single-threaded and waits for each statement it sends, so at any moment at most one of its
connections is `active`, and one seen `active` is the worker waiting on the database (executing, or
waiting on a lock, I/O or another backend). `db_wait_share` is the active samples over (workers ×
samples): the share of the workers' wall time spent waiting on the database, split by what the
server was doing (`wait_event_type`, `CPU` when none). Active samples waiting on `Client` (the
server reading the rest of a pipelined batch the worker is still sending) are the worker's time and
are reported apart as `client_read_share`; the rest of the wall time is the worker's own (Python,
`in_transaction_share` of it inside a transaction) or its sleep. A sample costs the server a
little: one short query every 20 ms.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from qunflow.engine import Engine, Event, SimClock, Store
from qunflow.engine.clock import to_us

from .fleet import Fleet, delay_flow, wait_until
from .measure import peak_rss_mb

APPLICATION = "qunflow-bench-worker"
SAMPLE_S = 0.02
SETTLE_S = 3.0


def park(store: Store, runs: int, prefix: str) -> None:
    """`runs` journeys waiting a day, parked under a simulated clock."""
    clock = SimClock(datetime.now(UTC))
    engine = Engine(store, clock=clock)
    engine.flows.reload()
    for start in range(0, runs, 10_000):
        engine.ingest(
            [
                Event(id=f"{prefix}-{i}", type="signup", at=clock.now(), member=f"{prefix}-{i}")
                for i in range(start, min(start + 10_000, runs))
            ]
        )


def waiting(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM runs WHERE status = 'waiting'")).scalar_one()


class Sampler:
    """What the workers' connections are doing, sampled from `pg_stat_activity` in a thread."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.samples = 0
        self.states: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        query = text(
            "SELECT state, wait_event_type FROM pg_stat_activity "
            "WHERE application_name = :name AND pid <> pg_backend_pid()"
        )
        with self.store.engine.connect() as conn:
            while not self._stop.is_set():
                rows = conn.execute(query, {"name": APPLICATION}).all()
                conn.rollback()  # each sample sees the activity of now, not of its first read
                self.samples += 1
                for state, wait in rows:
                    if state == "active":
                        self.states[f"active:{wait or 'CPU'}"] += 1
                    else:
                        self.states[state or "unknown"] += 1
                self._stop.wait(SAMPLE_S)

    def figures(self, workers: int) -> dict[str, Any]:
        slots = max(self.samples * workers, 1)
        active = {k.removeprefix("active:"): v for k, v in self.states.items() if k.startswith("active:")}
        # `Client`: the server waits for the rest of what the worker sends (a pipeline): worker time.
        client = active.pop("Client", 0)
        return {
            "samples": self.samples,
            "db_wait_share": round(sum(active.values()) / slots, 3),
            "db_wait_by_event": {k: round(v / slots, 3) for k, v in sorted(active.items())},
            "client_read_share": round(client / slots, 3),
            "in_transaction_share": round(self.states["idle in transaction"] / slots, 3),
        }


def storm(store: Store, fleet: Fleet, workers: int, runs: int) -> dict[str, Any]:
    """Start `workers`, let them settle, make every parked run due at once; the storm's figures."""
    for slot in range(workers):
        fleet.start(slot)
    time.sleep(SETTLE_S)
    try:
        with Sampler(store) as sampler:
            with store.transaction() as conn:
                # As if they had parked a day ago: `wait.delay` counts its day from `entered_at`.
                now = to_us(datetime.now(UTC))
                conn.execute(
                    text("UPDATE runs SET wake_at = :now, entered_at = :then WHERE status = 'waiting'"),
                    {"now": now, "then": now - 86_400_000_000},
                )
            started = time.monotonic()
            if not wait_until(lambda: waiting(store) == 0, timeout=600, step=0.05):
                raise RuntimeError(f"the storm did not end in 600 s:\n{fleet.log_tail()}")
            seconds = time.monotonic() - started
    finally:
        fleet.stop()
        fleet.procs.clear()
    rate = runs / seconds
    return {
        "workers": workers,
        "seconds": round(seconds, 2),
        "runs_per_s": round(rate),
        "per_worker_runs_per_s": round(rate / workers),
        **sampler.figures(workers),
    }


def measure(runs: int, url: str, logs: Path) -> dict[str, Any]:
    """A storm of `runs` with one worker, then one with four; the figures and the exactly-once check."""
    store = Store.open(url)
    try:
        Engine(store).deploy(delay_flow(delay="P1D"))
        sep = "&" if "?" in url else "?"
        fleet = Fleet(f"{url}{sep}application_name={APPLICATION}", logs, receiver=None, lease=30.0, poll=0.2)
        park(store, runs, "one")
        one = storm(store, fleet, 1, runs)
        park(store, runs, "four")
        four = storm(store, fleet, 4, runs)
        counts = store.node_counts("storm")["storm"]
        with store.engine.connect() as conn:
            keys, distinct = conn.execute(
                text("SELECT count(*), count(DISTINCT member_id) FROM deliveries WHERE kind = 'coupon'")
            ).one()
    finally:
        store.close()
    stepped = counts["wait"].get("port:next", 0)
    exactly_once = stepped == counts["coupon"].get("entered", 0) == keys == distinct == 2 * runs
    return {
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "runs_per_storm": runs,
        "one_worker": one,
        "four_workers": four,
        "ratio": round(four["runs_per_s"] / one["runs_per_s"], 2),
        "exactly_once": exactly_once,
        "problems": [] if exactly_once else [f"{stepped} steps, {keys} coupons for {distinct} of {2 * runs}"],
        "peak_rss_mb": peak_rss_mb(),
    }
