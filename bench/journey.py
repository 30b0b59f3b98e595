"""W through the engine: park N journeys, let half the members chat, resume them all at once.

The phases are methods so a profiler can wrap exactly one of them (`python -m qunflow.bench.profile`).
Event structs are built outside the timed sections: the figures time `Engine.ingest` and
`Engine.run_due`, not the making of test data.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy import text

from qunflow.engine import Engine, Event, SimClock, Store, default_registry, settle

from . import reference as w
from .measure import Stopwatch, backend, journey_figures, peak_rss_mb, per_second, store_bytes

# Events are made this many at a time, so test data never dominates the memory measured.
CHUNK = 10_000
PACED_CHUNK = 500


class EngineJourney:
    def __init__(self, members: int, url: str, store: Store | None = None) -> None:
        self.members = members
        self.url = url
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}
        self.store = store or Store.open(url)
        self.clock = SimClock(w.T0)
        self.engine = Engine(self.store, default_registry(), self.clock)
        with self.store.transaction() as conn:
            self.store.upsert_groups(
                conn, [{"id": w.FANS_GROUP, "name": "粉丝福利 1 群", "tags": ["fans"], "kind": "fans"}]
            )
        self.engine.deploy(w.bench_flow(members))
        settle()  # as `qunflow serve` and `qunflow worker` do once started
        self.events = 0
        self.bytes_before = store_bytes(self.store)
        self.bytes_parked = self.bytes_before

    def _ingest(
        self, phase: str, make: Callable[[int], dict[str, Any] | None], chunk: int, pace: float | None = None
    ) -> None:
        """Ingest the events `make` gives for every member, `chunk` at a time, timing only the
        engine. With `pace` (events per simulated second) the clock moves on after each chunk."""
        watch = Stopwatch()
        for start in range(0, self.members, chunk):
            made = (make(i) for i in range(start, min(start + chunk, self.members)))
            events = msgspec.convert([e for e in made if e is not None], list[Event])
            with watch:
                self.engine.ingest(events)
            self.events += len(events)
            if pace:
                self.clock.advance_to(self.clock.now() + timedelta(seconds=len(events) / pace))
        self._note(phase, watch)

    def _note(self, phase: str, watch: Stopwatch) -> None:
        self.seconds[phase] = watch.wall
        self.cpu_seconds[phase] = watch.cpu

    def park(self, pace: float | None = None) -> None:
        """Ingest every member_joined: start W and park each run in the 1-day wait."""
        self._ingest("park", w.join_event, PACED_CHUNK if pace else CHUNK, pace)
        self.bytes_parked = store_bytes(self.store)

    def chat(self) -> None:
        """Half the members post a message within the day."""
        self.clock.advance_to(w.CHAT_AT)
        self._ingest("chat", lambda i: w.chat_event(i) if w.is_active(i) else None, CHUNK)

    def resume(self) -> None:
        """Every run is due at T0 + 1 day: step them all to the end."""
        self.clock.advance_to(w.WAKE_AT)
        with Stopwatch() as watch:
            self.engine.run_due()
        self._note("resume", watch)

    def deliveries_by_member(self) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT member_id, kind, COUNT(*) FROM deliveries WHERE flow_id = :f "
                    "GROUP BY member_id, kind"
                ),
                {"f": w.FLOW_ID},
            )
            for member, kind, count in rows:
                found.setdefault(member, {})[kind] = count
        return found

    def failed_runs(self) -> list[str]:
        """A few failed runs' errors (a failed step is a bench finding, not noise)."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id, error FROM runs WHERE status = 'failed' ORDER BY id LIMIT 3")
            )
            return [f"run {run_id}: {error}" for run_id, error in rows]

    def figures(self) -> dict[str, Any]:
        n = self.members
        problems = self.failed_runs() + w.outcome_problems(n, self.deliveries_by_member())
        return journey_figures(self, backend(self.url), problems)

    def close(self) -> None:
        self.store.close()


def measure(members: int, url: str) -> dict[str, Any]:
    """Run W for `members` on the store at `url` and return its figures."""
    journey = EngineJourney(members, url)
    try:
        journey.park()
        journey.chat()
        journey.resume()
        return journey.figures()
    finally:
        journey.close()


def measure_parked(members: int, url: str) -> dict[str, Any]:
    """Park `members` journeys and stop there: what holding them costs in memory and store bytes."""
    journey = EngineJourney(members, url)
    try:
        journey.park()
        with journey.store.engine.connect() as conn:
            waiting = conn.execute(text("SELECT COUNT(*) FROM runs WHERE status = 'waiting'")).scalar()
        return {
            "members": members,
            "backend": backend(url),
            "parked": waiting,
            "park_per_s": per_second(members, journey.seconds["park"]),
            "peak_rss_mb": peak_rss_mb(),
            "store_mb": round(journey.bytes_parked / 2**20, 1),
            "bytes_per_parked": round((journey.bytes_parked - journey.bytes_before) / members, 1),
            "seconds": {k: round(v, 3) for k, v in journey.seconds.items()},
            "cpu_seconds": {k: round(v, 3) for k, v in journey.cpu_seconds.items()},
        }
    finally:
        journey.close()
