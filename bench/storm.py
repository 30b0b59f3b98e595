"""The resume storm: many runs due at once (or at a steady rate), stepped by a worker on the real clock.

Wake lateness is (when a run was stepped − its wake time), where "stepped" is the moment its batch
wrote it back, just before the commit. The runs are parked under the simulated clock; the worker's
clock is the real one shifted by a constant so the first wake lies just ahead.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from qunflow.engine import Engine, Store, default_registry
from qunflow.engine.clock import to_us
from qunflow.engine.run import Run

from . import reference as w
from .journey import EngineJourney
from .measure import backend, peak_rss_mb, per_second, percentile

LEAD = timedelta(milliseconds=200)
# A worker that finds nothing due looks again after this long.
IDLE = 0.0005


class ShiftedClock:
    """The real clock, moved by a constant."""

    def __init__(self, shift: timedelta) -> None:
        self.shift = shift

    def now(self) -> datetime:
        return datetime.now(UTC) + self.shift


class TimedStore(Store):
    """The store, noting for each due run it hands out when it was stepped."""

    clock: ShiftedClock | None = None

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._claimed: list[int] = []
        self.lateness_us: list[int] = []

    def claim_due(self, conn: Connection, now: int, limit: int) -> list[Run]:
        runs = super().claim_due(conn, now, limit)
        self._claimed.extend(r.wake_at for r in runs if r.wake_at is not None)
        return runs

    def write_runs(self, conn: Connection, runs: Any) -> None:
        super().write_runs(conn, runs)
        if self._claimed and self.clock is not None:
            stepped = to_us(self.clock.now())
            self.lateness_us.extend(stepped - wake for wake in self._claimed)
            self._claimed = []


def measure(members: int, url: str, pace: float | None) -> dict[str, Any]:
    """Park W for `members` (wake times all equal, or spread at `pace` per second), then let one
    worker step them on the real clock; returns lateness percentiles."""
    store = TimedStore.open(url)
    journey = EngineJourney(members, url, store=store)
    try:
        journey.park(pace)
        journey.chat()
        clock = ShiftedClock(w.WAKE_AT - (datetime.now(UTC) + LEAD))
        store.clock = clock
        worker = Engine(store, default_registry(), clock)
        stepped = 0
        give_up = time.monotonic() + 600
        while stepped < members and time.monotonic() < give_up:
            done = worker.run_due()
            stepped += done
            if not done:
                time.sleep(IDLE)
        span = (clock.now() - w.WAKE_AT).total_seconds()
        lateness = sorted(us / 1e6 for us in store.lateness_us)
        return {
            "members": members,
            "backend": backend(url),
            "due": "at once" if pace is None else f"{pace:g}/s",
            "stepped": stepped,
            "stepped_per_s": per_second(stepped, span),
            "lateness_p50_s": round(percentile(lateness, 0.50), 3),
            "lateness_p99_s": round(percentile(lateness, 0.99), 3),
            "lateness_max_s": round(lateness[-1], 3) if lateness else 0.0,
            "peak_rss_mb": peak_rss_mb(),
        }
    finally:
        journey.close()
