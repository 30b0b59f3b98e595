"""The hot path's reads and writes, straight on the database driver.

A batch's writes are plain executemany calls (on PostgreSQL, inserts of many rows go through COPY):
SQLAlchemy's per-row parameter work would cost more than the database does. The SQL is the same on
SQLite and PostgreSQL but for the markers.
A mixin of :class:`engine.store.Store`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from itertools import compress
from operator import ne
from typing import Any

from sqlalchemy import Connection

# From this many rows on, PostgreSQL inserts go through COPY; fewer go as before (where the two meet
# was not measured: a COPY costs a round trip or two more than executemany's one).
COPY_ROWS = 50
_SKIP_KNOWN_KEYS = " ON CONFLICT (key) DO NOTHING"


class DriverStore:
    _mark: str
    _sql: dict[tuple[Any, ...], str]

    def _bulk(
        self, conn: Connection, table: str, columns: Sequence[str], rows: list[tuple], tail: str = ""
    ) -> int:
        """Inserts the rows; how many were written (a conflict clause in `tail` may skip some)."""
        if not rows:
            return 0
        if self._mark == "%s" and len(rows) >= COPY_ROWS and tail in ("", _SKIP_KNOWN_KEYS):
            return self._copy(conn, table, columns, rows, tail)
        key = (table, tuple(columns), tail)
        sql = self._sql.get(key)
        if sql is None:
            marks = ", ".join([self._mark] * len(columns))
            sql = self._sql[key] = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}){tail}"
        return self._executemany(conn, sql, rows)

    def _copy(
        self, conn: Connection, table: str, columns: Sequence[str], rows: list[tuple], tail: str
    ) -> int:
        """PostgreSQL: many rows through COPY, the server's bulk path (measured: about 40% less time
        than psycopg's pipelined executemany for a batch's 750 deliveries). A plain insert copies
        into the table itself; one that skips known keys (`ON CONFLICT (key) DO NOTHING`, which COPY
        cannot say) copies into a temporary table emptied at commit, then inserts from it. Returns
        how many rows were written."""
        names = ", ".join(columns)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            target = table
            if tail:
                target = f"copy_{table}"
                # Made by the session's first such batch (made again if that one rolled back).
                cursor.execute(
                    f"CREATE TEMPORARY TABLE IF NOT EXISTS {target} "
                    f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                )
            with cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
                write = copy.write_row
                for row in rows:
                    write(row)
            if not tail:
                return len(rows)
            cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {target}{tail}")
            return cursor.rowcount
        finally:
            cursor.close()

    def _bulk_update(
        self, conn: Connection, table: str, columns: Sequence[str], rows: list[tuple], key: str = "id"
    ) -> None:
        """Rows are the column values followed by the row's `key` (its id)."""
        if not rows:
            return
        cache = (table, tuple(columns), "update", key)
        sql = self._sql.get(cache)
        if sql is None:
            sets = ", ".join(f"{c} = {self._mark}" for c in columns)
            sql = self._sql[cache] = f"UPDATE {table} SET {sets} WHERE {key} = {self._mark}"
        self._executemany(conn, sql, rows)

    def _update_changed(
        self, conn: Connection, table: str, columns: tuple[str, ...], changes: list[tuple[tuple, Any, Any]]
    ) -> None:
        """Write (values, stored values or None, id) changes: only the columns whose value differs
        from the stored one, one statement for each set of such columns. Unchanged indexed columns
        then cost the database nothing, and the driver binds fewer values."""
        by_columns: dict[tuple[bool, ...], list[tuple]] = {}
        every = (True,) * len(columns)
        for row, stored, row_id in changes:
            differs = every if stored is None else tuple(map(ne, row, stored))
            if True not in differs:
                continue
            found = by_columns.get(differs)
            if found is None:
                found = by_columns[differs] = []
            found.append((*compress(row, differs), row_id))
        for differs, rows in by_columns.items():
            self._bulk_update(conn, table, tuple(compress(columns, differs)), rows)

    @staticmethod
    def _select(conn: Connection, sql: str, values: tuple = ()) -> list[tuple]:
        """Rows of a query straight from the driver."""
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, values)
            return cursor.fetchall()
        finally:
            cursor.close()

    def _select_in(self, conn: Connection, sql: str, ids: Sequence[Any], before: tuple = ()) -> list[tuple]:
        """Rows of a `... IN ({ids})` query straight from the driver, in chunks the drivers accept;
        `before` are the values of markers that come before the id list."""
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        rows: list[tuple] = []
        try:
            for start in range(0, len(ids), 5000):
                chunk = ids[start : start + 5000]
                cursor.execute(sql.format(ids=", ".join([self._mark] * len(chunk))), (*before, *chunk))
                rows += cursor.fetchall()
        finally:
            cursor.close()
        return rows

    @staticmethod
    def _executemany(conn: Connection, sql: str, rows: list[tuple]) -> int:
        """Runs `sql` for each row; how many rows it changed in all (both drivers sum them)."""
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, rows)
            return cursor.rowcount
        finally:
            cursor.close()


def bind_nulls_cheaply() -> None:
    """The sqlite3 driver puts every None it binds through its adaptation protocol (a tuple built,
    a registry miss, two attribute lookups): a third of the cost of writing a run. An adapter for
    None that gives None back, in C (an empty dict's `get`), binds NULL at once. Nothing else
    changes: None is stored as NULL either way."""
    sqlite3.register_adapter(type(None), {}.get)
