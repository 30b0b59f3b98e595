"""Measuring instruments: peak memory, store bytes, a fresh database, and a process per measurement.

Each side of a comparison runs in its own freshly started interpreter, so its peak RSS is its own
and neither side warms the other's caches.
"""

from __future__ import annotations

import os
import resource
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from qunflow.engine import Store, UserError


def peak_rss_mb() -> float:
    """This process's peak resident set size, in MiB."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def in_fresh_process(function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Call `function(*args)` in a newly started interpreter and return its result."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def backend(url: str) -> str:
    return "postgresql" if url.startswith(("postgresql", "postgres")) else "sqlite"


@contextmanager
def fresh_database(db: str | None, workdir: Path, name: str) -> Iterator[str]:
    """A database URL with nothing in it: a SQLite file in `workdir`, or a new PostgreSQL schema
    that is dropped afterwards."""
    if db is not None and backend(db) != "postgresql":
        raise UserError(
            f"--db: `{db}` is not a postgresql:// URL; leave --db out to bench on SQLite "
            "(a fresh file in a temporary directory)"
        )
    if db is None:
        yield f"sqlite:///{workdir / (name + '.db')}"
        return
    schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        db.replace("postgresql://", "postgresql+psycopg://", 1).replace(
            "postgres://", "postgresql+psycopg://", 1
        )
    )
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as error:  # any driver error: the URL is the user's input
        admin.dispose()
        reason = (str(getattr(error, "orig", None) or error).splitlines() or [type(error).__name__])[0]
        raise UserError(f"--db: cannot create a schema on `{db}`: {reason}") from None
    sep = "&" if "?" in db else "?"
    try:
        yield f"{db}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def store_bytes(store: Store) -> int:
    """What the store occupies: the SQLite file after a checkpoint, or PostgreSQL's table sizes."""
    if store.dialect == "sqlite":
        path = store.url.removeprefix("sqlite:///")
        raw = store.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
        return sqlite_file_bytes(path)
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                )
            ).scalar()
        )


def sqlite_file_bytes(path: str) -> int:
    """A SQLite database's size on disk: the file and its write-ahead log."""
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


class Stopwatch:
    """Wall-clock and CPU seconds spent inside `with stopwatch:` blocks. The CPU time shows how much
    of the wall time a busy machine took away."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self._started = (0.0, 0.0)

    def __enter__(self) -> Stopwatch:
        self._started = (time.perf_counter(), time.process_time())
        return self

    def __exit__(self, *_: object) -> None:
        self.wall += time.perf_counter() - self._started[0]
        self.cpu += time.process_time() - self._started[1]


def per_second(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def percentile(sorted_values: list[float], share: float) -> float:
    """The value below which `share` of the (sorted) values fall (nearest rank)."""
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, int(round(share * len(sorted_values) + 0.5)) - 1))
    return sorted_values[index]


def journey_figures(journey: Any, backend: str, problems: list[str]) -> dict[str, Any]:
    """The figures of one side of W (engine or baseline), from its counters and timings."""
    n, seconds = journey.members, journey.seconds
    return {
        "members": n,
        "backend": backend,
        "events": journey.events,
        "ingest_per_s": per_second(journey.events, seconds["park"] + seconds.get("chat", 0)),
        "park_per_s": per_second(n, seconds["park"]),
        "resume_per_s": per_second(n, seconds["resume"]),
        "peak_rss_mb": peak_rss_mb(),
        "bytes_per_parked": round((journey.bytes_parked - journey.bytes_before) / max(n, 1), 1),
        "exactly_once": not problems,
        "problems": problems[:5],
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "cpu_seconds": {k: round(v, 3) for k, v in journey.cpu_seconds.items()},
    }
