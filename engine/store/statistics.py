"""Planner statistics kept fresh on PostgreSQL, whatever the server's autovacuum does.

Every batch looks rows up by lists of ids (`WHERE member_id IN (...)`). PostgreSQL picks an index for
that only if it knows how big the table is and how its values spread: from `ANALYZE`. A table never
analyzed (autovacuum off, or a burst of inserts faster than autovacuum's one-minute nap) is judged
small, so every lookup reads it whole: each batch then costs as much as every row before it, and
100,000 journeys park ten times slower than 10,000 do.

So the store analyzes its own tables, as autovacuum would: after a commit, at most once a `CHECK_S`,
it asks the server's activity counters which of its tables changed by more than `THRESHOLD` rows plus
their size since they were last analyzed (doubling at most: a growing table is analyzed about
log2(N) times), and analyzes those. One process at a time (an advisory lock; others skip), in a
short transaction of its own. A server whose autovacuum keeps up finds the counters low and nothing
to do.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from sqlalchemy import text

from ..shutdown import STOPPING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine as SAEngine

log = logging.getLogger("qunflow.store")

CHECK_S = 1.0
THRESHOLD = 1000
# The advisory lock that lets one process of a store analyze at a time (the bytes of "qunflow").
_LOCK = 0x71756E666C6F77
# This schema's tables, looked up once: the catalog's table of relations, on a server without
# autovacuum, is bloated by every schema ever dropped, and reading it whole costs tens of ms.
_TABLES = text(
    "SELECT oid FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r'"
)
# Then, by oid, the counter behind pg_stat_user_tables.n_mod_since_analyze (the view computes a dozen
# counters for every table of the database).
_STALE = text(
    "SELECT relname FROM pg_class WHERE oid = ANY(CAST(:oids AS oid[])) "
    "AND pg_stat_get_mod_since_analyze(oid) > :threshold + GREATEST(reltuples, 0) ORDER BY relname"
)


class Statistics:
    """Analyzes a PostgreSQL store's tables once they have changed a lot (see the module)."""

    def __init__(self, engine: SAEngine) -> None:
        self.engine = engine
        self._next = 0.0
        self._lock = threading.Lock()
        self.enabled = True
        self.analyzed = 0
        self._tables: list[int] | None = None

    def after_commit(self) -> None:
        """Called after each write transaction; cheap unless a check is due."""
        if not self.enabled or time.monotonic() < self._next or STOPPING.is_set():
            return
        if not self._lock.acquire(blocking=False):
            return  # another thread of this process checks right now
        try:
            self._next = time.monotonic() + CHECK_S
            self.refresh()
        except Exception as error:  # statistics are a help, never a reason for a batch to fail
            log.warning("could not refresh planner statistics: %s", str(error).splitlines()[0])
        finally:
            self._lock.release()

    def refresh(self) -> list[str]:
        """Analyze the tables that changed by more than their size since last analyzed; returns them."""
        with self.engine.begin() as conn:
            if not conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _LOCK}).scalar():
                return []
            if self._tables is None:
                self._tables = [oid for (oid,) in conn.execute(_TABLES)]
            found = conn.execute(_STALE, {"oids": self._tables, "threshold": THRESHOLD})
            stale = [name for (name,) in found]
            # Waiting behind a VACUUM or a schema change is not worth a batch's time.
            conn.execute(text("SET LOCAL lock_timeout = '200ms'"))
            for name in stale:
                conn.execute(text(f'ANALYZE "{name}"'))
        self.analyzed += len(stale)
        return stale


__all__ = ["Statistics"]
