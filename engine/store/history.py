"""Reading a store's past for a backtest (engine.backtest): a span of stored events in time order,
page by page, and the community as it is now, copied into a scratch store.

Nothing here writes to the store it reads from.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, func, select

from . import schema as t

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine as SAEngine

# The community a backtest starts from: everything a step may read of members, groups, the content
# library and staff. Runs, deliveries and events stay behind (the backtest makes its own).
COMMUNITY_TABLES = (t.members, t.groups, t.content, t.staff, t.tags)
COPY_CHUNK = 5000

# An event row as the backtest reads it: (seq, id, type, member, group, channel, at, data JSON text).
EventRow = tuple[int, str, str, str | None, str | None, str | None, int, str | None]


class ScratchTarget(Protocol):
    """The store a community is copied into (a `Store`): its transaction and its driver's marker."""

    _mark: str

    def transaction(self) -> AbstractContextManager[Connection]: ...


class HistoryStore:
    if TYPE_CHECKING:
        engine: SAEngine
        dialect: str
        _mark: str

        @staticmethod
        def _select(conn: Connection, sql: str, values: tuple = ()) -> list[tuple]: ...

    def event_count(self, since: int, until: int) -> int:
        """How many stored events have `at` in [since, until]."""
        c = t.events.c
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).where(c.at >= since, c.at <= until)).scalar() or 0

    def event_page(self, since: int, until: int, after: tuple[int, int] | None, limit: int) -> list[EventRow]:
        """Up to `limit` stored events with `at` in [since, until], by time then sequence number,
        from just after `after` (the (at, seq) of the last one read; None: from the start)."""
        # Straight from the driver: a backtest reads every event of a month, page after page.
        mark = self._mark
        if after is None:
            where, values = f"at >= {mark}", (since,)
        else:
            where = f"at >= {mark} AND (at > {mark} OR seq > {mark})"
            values = (after[0], after[0], after[1])
        sql = (
            "SELECT seq, id, type, member_id, group_id, channel, at, data FROM events "
            f"WHERE {where} AND at <= {mark} ORDER BY at, seq LIMIT {mark}"
        )
        with self.engine.connect() as conn:
            return self._select(conn, sql, (*values, until, limit))

    def copy_community(self, target: ScratchTarget) -> int:
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
