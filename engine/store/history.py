"""Reading a store's past for a backtest (engine.backtest): a span of stored events in time order,
page by page, and the community as it is now, copied into a scratch store.

Nothing here writes to the store it reads from.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, func, or_, select

from . import schema as t

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine as SAEngine

# The community a backtest starts from: everything a step may read of members, groups, the content
# library and staff. Runs, deliveries and events stay behind (the backtest makes its own).
COMMUNITY_TABLES = (t.members, t.groups, t.content, t.staff, t.tags)
COPY_CHUNK = 5000

# An event row as the backtest reads it: (seq, id, type, member, group, channel, at, data JSON text).
EventRow = tuple[int, str, str, str | None, str | None, str | None, int, str | None]


class HistoryStore:
    if TYPE_CHECKING:
        engine: SAEngine
        dialect: str

    def event_count(self, since: int, until: int) -> int:
        """How many stored events have `at` in [since, until]."""
        c = t.events.c
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).where(c.at >= since, c.at <= until)).scalar() or 0

    def event_page(self, since: int, until: int, after: tuple[int, int] | None, limit: int) -> list[EventRow]:
        """Up to `limit` stored events with `at` in [since, until], by time then sequence number,
        from just after `after` (the (at, seq) of the last one read; None: from the start)."""
        c = t.events.c
        stmt = select(c.seq, c.id, c.type, c.member_id, c.group_id, c.channel, c.at, c.data).where(
            c.at <= until
        )
        if after is None:
            stmt = stmt.where(c.at >= since)
        else:
            at, seq = after
            stmt = stmt.where(c.at >= at, or_(c.at > at, and_(c.at == at, c.seq > seq)))
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(stmt.order_by(c.at, c.seq).limit(limit))]  # type: ignore[misc]

    def copy_community(self, target: Any) -> int:  # a Store (importing it here would be a cycle)
        """Copy the members, groups, content library, staff and tags as they are now into `target`
        (an empty store), a chunk at a time; returns how many members were copied."""
        members = 0
        with self.engine.connect() as source, target.transaction() as conn:
            for table in COMMUNITY_TABLES:
                for rows in _chunks(source, table):
                    _insert(conn, table.name, [col.name for col in table.columns], rows, target._mark)
                    if table is t.members:
                        members += len(rows)
        return members

    def delivery_rows(self) -> Iterator[tuple[str | None, int, str, str]]:
        """Every delivery as (member, time, kind, payload JSON text), by member then time: one
        member's deliveries come together, so counting per member needs one member in mind."""
        c = t.deliveries.c
        stmt = select(c.member_id, c.at, c.kind, c.payload).order_by(c.member_id, c.at, c.id)
        with self.engine.connect() as conn:
            for partition in conn.execution_options(yield_per=COPY_CHUNK).execute(stmt).partitions():
                yield from (tuple(r) for r in partition)  # type: ignore[misc]

    def entered_members(self, flow_id: str) -> int:
        """How many distinct members have a run of the flow."""
        c = t.runs.c
        stmt = select(func.count(func.distinct(c.member_id))).where(c.flow_id == flow_id)
        with self.engine.connect() as conn:
            return conn.execute(stmt).scalar() or 0


def _chunks(conn: Connection, table: Any) -> Iterator[list[tuple[Any, ...]]]:
    result = conn.execution_options(yield_per=COPY_CHUNK).execute(select(table))
    for partition in result.partitions():
        yield [tuple(r) for r in partition]


def _insert(conn: Connection, table: str, columns: list[str], rows: list[tuple[Any, ...]], mark: str) -> None:
    # Straight to the driver: a community of 100,000 members is copied on every backtest.
    marks = ", ".join([mark] * len(columns))
    sql = f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({marks})'
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


__all__ = ["COMMUNITY_TABLES", "EventRow", "HistoryStore"]
