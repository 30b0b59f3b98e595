"""The store's daily rollups (engine.rollup): moving cells inside a writer's transaction, summing them
for the reports, and rebuilding them from what is stored.

A mixin of :class:`engine.store.Store`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import Connection, delete, inspect, select

from ..rollup import GROUP, Tally, delivery_metric, local_day, member_facts
from . import schema as t
from .driver import DriverStore

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine as SAEngine

_decode = msgspec.json.decode
# The columns a sum may keep apart.
SUM_BY = ("day", "key", "metric")
_UPSERT = " ON CONFLICT (topic, day, key, metric) DO UPDATE SET value = daily_stats.value + excluded.value"


class StatsStore(DriverStore):
    engine: SAEngine
    _mark: str

    def add_stats(self, conn: Connection, changes: Sequence[tuple[str, str, int, str, float]]) -> None:
        """Move rollup cells by (topic, key, day, metric, delta), inside the writer's transaction."""
        if changes:
            rows = [(topic, day, key, metric, value) for topic, key, day, metric, value in changes]
            self._bulk(conn, "daily_stats", ("topic", "day", "key", "metric", "value"), rows, _UPSERT)

    def sum_stats(
        self, topic: str, first: int | None, last: int | None, by: Sequence[str] = ("key", "metric")
    ) -> list[tuple[Any, ...]]:
        """The cells of a topic from day `first` to `last` (both included; None: no bound), summed
        over everything but the columns `by` (of `SUM_BY`); each row is those columns, then the sum."""
        kept = ", ".join(name for name in by if name in SUM_BY)
        mark = self._mark
        sql = f"SELECT {kept}, SUM(value) FROM daily_stats WHERE topic = {mark}"
        values: list[Any] = [topic]
        if first is not None:
            sql += f" AND day >= {mark}"
            values.append(first)
        if last is not None:
            sql += f" AND day <= {mark}"
            values.append(last)
        # Straight on the driver: a report over thousands of groups sums tens of thousands of cells,
        # and reading each result row through SQLAlchemy would cost more than the sum.
        with self.engine.connect() as conn:
            return self._select(conn, f"{sql} GROUP BY {kept}", tuple(values))

    def group_names_and_sizes(self) -> list[tuple[str, str | None, int]]:
        """(id, name, members now) of every group, by id: the member counts are kept, not counted."""
        with self.engine.connect() as conn:
            return self._select(conn, "SELECT id, name, member_count FROM groups ORDER BY id")

    def _deliveries_moved(self, conn: Connection, moves: Iterable[tuple[str, int, str | None, str]]) -> None:
        """Deliveries made or settled: (kind, made at, metric before or None, metric after)."""
        tally = Tally()
        for kind, at, before, after in moves:
            tally.delivery_moved(kind, at, before, after)
        self.add_stats(conn, tally.changes())


def rebuild_stats(conn: Connection) -> None:
    """Recount every rollup from what is stored: members (by the day they came; their stage as from
    that day), the joins, leaves and messages of groups' events, and deliveries by their status.
    The counts a writer keeps are the same but for the days of stage moves, which only writers see."""
    conn.execute(delete(t.daily_stats))
    tally = Tally()
    m = t.members.c
    members = select(
        m.channel, m.first_seen, m.contact_lost_at, m.stage, m.total_spend, m.order_count,
        m.last_message_at, m.groups,
    )  # fmt: skip
    for channel, first_seen, lost, stage, spend, orders, last, groups in _streamed(conn, members):
        facts = member_facts(
            channel, first_seen, lost, stage, spend, orders, last, _decode(groups) if groups else ()
        )
        tally.member_moved(None, facts, facts.cohort)
    e = t.events.c
    moves = {"member_joined": "joins", "member_left": "leaves", "message": "messages"}
    events = select(e.type, e.group_id, e.at).where(e.group_id.is_not(None), e.type.in_(list(moves)))
    for kind, group, at in _streamed(conn, events):
        tally.add(GROUP, group, local_day(at), moves[kind])
    d = t.deliveries.c
    made = select(d.kind, d.at, d.status, d.reason)
    # Test sends count nowhere; their column comes with migration 0014 (this recount runs in 0007).
    if "test" in {column["name"] for column in inspect(conn).get_columns("deliveries")}:
        made = made.where(t.not_test(d))
    for kind, at, status, reason in _streamed(conn, made):
        tally.delivery_moved(kind, at, None, delivery_metric(status, reason))
    changes = [(topic, day, key, metric, value) for topic, key, day, metric, value in tally.changes()]
    for start in range(0, len(changes), 5000):
        conn.execute(
            t.daily_stats.insert(),
            [
                dict(zip(("topic", "day", "key", "metric", "value"), row, strict=True))
                for row in changes[start : start + 5000]
            ],
        )


def _streamed(conn: Connection, stmt: Any) -> Iterable[tuple[Any, ...]]:
    """A large result a chunk at a time (on PostgreSQL a server-side cursor, not the whole table)."""
    # On the statement, not the connection: a connection's options would stay for what follows.
    result = conn.execute(stmt.execution_options(stream_results=True, yield_per=10_000))
    for row in result:
        yield tuple(row)
