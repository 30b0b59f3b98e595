"""The store: one narrow interface over SQLAlchemy Core, on SQLite (WAL) or PostgreSQL.

Everything the engine writes in a step batch goes through one connection in one transaction
(:meth:`Store.transaction`); the methods that take `conn` are the pieces of such a batch. Reads
outside a batch use `store.engine.connect()`: on SQLite they take no lock, so a long write never holds
them up. A SQLite URL may end in `?timeout=SECONDS`: how long a writer waits for the write lock
(default 30); `?scratch=1` marks a throwaway database (a backtest's), written without syncing to disk.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import Connection, create_engine, event, func, insert, make_url, select, update
from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from ..clock import from_us
from ..errors import Conflict, NotFound, UserError
from ..member import GroupRecord, Member, group_deltas
from ..rollup import Tally, delivery_metric, local_day, member_facts
from ..run import LIVE, Run
from . import schema as t
from .channels import ChannelStore
from .community import CommunityStore
from .directory import DirectoryStore, group_row
from .driver import bind_nulls_cheaply
from .goals import GoalStore
from .history import HistoryStore
from .leases import LeaseStore
from .protection import ProtectionStore
from .reports import ReportStore
from .rows import (
    DELIVERY_COLUMNS,
    EVENT_COLUMNS,
    MEMBER_COLUMNS,
    MEMBER_FIELDS,
    NEW_RUN_COLUMNS,
    RUN_COLUMNS,
    RUN_FIELDS,
    event_from_row,
    from_json,
    member_from_row,
    member_row,
    member_values,
    run_from_row,
    run_from_values,
    run_insert_values,
    run_values,
    stored_facts,
)
from .settled import SettleStore
from .statistics import Statistics
from .stats import StatsStore
from .tasks import TaskStore
from .write_turns import WriteTurns

_encode = msgspec.json.encode
_decode = msgspec.json.decode
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class FlowRecord(msgspec.Struct):
    id: str
    name: str
    draft: dict[str, Any]
    draft_updated_at: int
    live_version: int | None
    paused: bool
    versions: list[dict[str, Any]] = []


class Store(
    CommunityStore,
    DirectoryStore,
    LeaseStore,
    ReportStore,
    HistoryStore,
    GoalStore,
    ProtectionStore,
    SettleStore,
    TaskStore,
    StatsStore,
    ChannelStore,
):
    """Tables, migrations and the batch reads and writes the engine needs."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine: SAEngine = self._connect(url)
        except (ArgumentError, ImportError, TypeError, ValueError) as error:
            raise UserError(f"cannot use database URL `{url}`: {error}") from None
        self.dialect = self.engine.dialect.name
        # Writes go through `transaction` (and so this engine); `engine.connect()` is for reads.
        self._writer = self.engine.execution_options(**{_WRITER: True})
        # SQLite's one writer: its turns handed out in order, urgent ones first (see write_turns).
        self._turns = WriteTurns() if self.dialect == "sqlite" else None
        self._insert = _dialect_insert(self.dialect)
        self._mark = "?" if self.dialect == "sqlite" else "%s"
        self._sql: dict[tuple[Any, ...], str] = {}
        self._id_blocks: dict[str, tuple[int, int]] = {}
        self._ids_lock = threading.Lock()
        # On PostgreSQL the store keeps its planner statistics fresh itself (see `statistics`).
        self.statistics = Statistics(self.engine) if self.dialect == "postgresql" else None

    @staticmethod
    def _connect(url: str) -> SAEngine:
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        if url.startswith("sqlite"):
            bind_nulls_cheaply()
            memory = url in ("sqlite://", "sqlite:///:memory:")
            if not memory:
                _create_private(url)
            parsed = make_url(url)
            # How long a writer waits for the write lock (`?timeout=` seconds in the URL, default 30).
            busy_ms = int(float(parsed.query.get("timeout", 30)) * 1000)
            scratch = parsed.query.get("scratch") == "1"
            engine = create_engine(
                parsed.difference_update_query(["timeout", "scratch"]),
                poolclass=StaticPool if memory else None,
                connect_args={"check_same_thread": False, "timeout": busy_ms / 1000},
            )

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_connection: Any, _: Any) -> None:
                # Let SQLAlchemy, not pysqlite, open transactions; WAL lets readers run beside the writer.
                dbapi_connection.isolation_level = None
                cursor = dbapi_connection.cursor()
                if scratch:
                    # Nothing in it outlives the process: no sync, the rollback journal in memory.
                    cursor.execute("PRAGMA journal_mode=MEMORY")
                    cursor.execute("PRAGMA synchronous=OFF")
                elif not memory:
                    cursor.execute("PRAGMA journal_mode=WAL")
                    cursor.execute("PRAGMA synchronous=NORMAL")
                else:
                    cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
                cursor.close()

            @event.listens_for(engine, "begin")
            def _begin(conn: Connection) -> None:
                # A writer takes the write lock at once: one that read first could find its snapshot
                # stale when it came to write. A reader takes no lock, and in WAL mode never waits for
                # a writer, however long the writer holds on.
                conn.exec_driver_sql(
                    "BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITER) else "BEGIN"
                )

            return engine
        return create_engine(url, pool_pre_ping=True)

    @classmethod
    def open(cls, url: str) -> Store:
        """Open a store and bring its schema up to date."""
        store = cls(url)
        store.migrate()
        return store

    def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self._write_turn(), self._writer.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction: committed on leaving, rolled back on an error. On SQLite it holds the
        write lock from its start; reads outside it (`engine.connect()`) never wait for it."""
        try:
            with self._write_turn(), self._writer.begin() as conn:
                yield conn
        except BaseException:
            # Ids reserved inside a rolled-back transaction were never reserved.
            if self.dialect != "postgresql":
                with self._ids_lock:
                    self._id_blocks.clear()
            raise
        if self.statistics is not None:
            self.statistics.after_commit()

    def _write_turn(self) -> AbstractContextManager[None]:
        return self._turns.turn() if self._turns is not None else nullcontext()

    # -- ids ---------------------------------------------------------------------------------------

    def allocate(self, conn: Connection, name: str, count: int) -> int:
        """Reserve `count` consecutive ids of a sequence; returns the first.

        Ids are reserved from the database in large blocks and handed out from memory, so most
        batches ask the database for none. A block reserved in a transaction that rolls back is
        forgotten (see :meth:`transaction`); ids a process never uses are simply skipped."""
        with self._ids_lock:
            start, end = self._id_blocks.get(name, (0, 0))
            if end - start < count:
                size = max(count, ID_BLOCK)
                start = self._reserve(conn, name, size)
                end = start + size
            self._id_blocks[name] = (start + count, end)
            return start

    def _reserve(self, conn: Connection, name: str, count: int) -> int:
        if self.dialect == "postgresql":
            # In a transaction of its own: the sequence row's lock would otherwise be held until the
            # batch commits, and every worker's batch would wait for every other's.
            return self.allocate_apart(name, count)
        row = conn.execute(
            update(t.sequences)
            .where(t.sequences.c.name == name)
            .values(value=t.sequences.c.value + count)
            .returning(t.sequences.c.value)
        ).first()
        if row is None:
            conn.execute(insert(t.sequences).values(name=name, value=count))
            return 1
        return row[0] - count + 1

    # -- flows -------------------------------------------------------------------------------------

    def save_draft(self, flow_id: str, name: str, document: dict[str, Any], now: int) -> None:
        with self.transaction() as conn:
            values = {"name": name, "draft": _encode(document).decode(), "draft_updated_at": now}
            done = conn.execute(update(t.flows).where(t.flows.c.id == flow_id).values(**values)).rowcount
            if not done:
                conn.execute(insert(t.flows).values(id=flow_id, paused=False, **values))

    def get_flow(self, flow_id: str) -> FlowRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.flows).where(t.flows.c.id == flow_id)).mappings().first()
            if row is None:
                raise NotFound(f"no flow `{flow_id}`")
            versions = conn.execute(
                select(t.flow_versions.c.version, t.flow_versions.c.published_at)
                .where(t.flow_versions.c.flow_id == flow_id)
                .order_by(t.flow_versions.c.version)
            ).all()
        return FlowRecord(
            id=row["id"],
            name=row["name"],
            draft=_decode(row["draft"]),
            draft_updated_at=row["draft_updated_at"],
            live_version=row["live_version"],
            paused=row["paused"],
            versions=[{"version": v, "published_at": at} for v, at in versions],
        )

    def list_flows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.flows.c.id, t.flows.c.name, t.flows.c.live_version, t.flows.c.paused).order_by(
                    t.flows.c.id
                )
            ).mappings()
            return [dict(r) for r in rows]

    def publish(self, flow_id: str, document: dict[str, Any], now: int) -> int:
        """Freeze `document` as the flow's next version and make it live."""
        with self.transaction() as conn:
            current = conn.execute(
                select(func.max(t.flow_versions.c.version)).where(t.flow_versions.c.flow_id == flow_id)
            ).scalar()
            version = (current or 0) + 1
            conn.execute(
                insert(t.flow_versions).values(
                    flow_id=flow_id, version=version, document=_encode(document).decode(), published_at=now
                )
            )
            done = conn.execute(
                update(t.flows).where(t.flows.c.id == flow_id).values(live_version=version)
            ).rowcount
            if not done:
                raise NotFound(f"no flow `{flow_id}`")
        return version

    def set_paused(self, flow_id: str, paused: bool) -> None:
        with self.transaction() as conn:
            done = conn.execute(update(t.flows).where(t.flows.c.id == flow_id).values(paused=paused)).rowcount
        if not done:
            raise NotFound(f"no flow `{flow_id}`")

    def live_flows(self) -> list[tuple[str, int]]:
        """(flow id, live version) of every published flow that is not paused."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.flows.c.id, t.flows.c.live_version)
                .where(t.flows.c.live_version.is_not(None), t.flows.c.paused.is_(False))
                .order_by(t.flows.c.id)
            )
            return [(r[0], r[1]) for r in rows]

    def version_document(self, flow_id: str, version: int, conn: Connection | None = None) -> dict[str, Any]:
        """A published version's document; through `conn` when given (a read inside a transaction)."""
        stmt = select(t.flow_versions.c.document).where(
            t.flow_versions.c.flow_id == flow_id, t.flow_versions.c.version == version
        )
        if conn is not None:
            text = conn.execute(stmt).scalar()
        else:
            with self.engine.connect() as own:
                text = own.execute(stmt).scalar()
        if text is None:
            raise NotFound(f"no version {version} of flow `{flow_id}`")
        return _decode(text)

    # -- members and groups --------------------------------------------------------------------------

    def load_members(self, conn: Connection, ids: Iterable[str]) -> dict[str, Member]:
        ids = list(ids)
        if not ids:
            return {}
        return {row[0]: member_from_row(row) for row in self._select_in(conn, _MEMBERS_SQL, ids)}

    def put_members(self, members: Sequence[Member], done: Callable[[int], None] | None = None) -> None:
        """Create or replace members (imports), in one transaction: all of them or none. A member
        stored already keeps what the engine saw of it (first seen, last message); the rest of its
        profile is the import's. `done` hears how many are written, chunk by chunk."""
        if not members:
            return
        stmt = self._insert(t.members)
        replaced = [c for c in MEMBER_COLUMNS if c not in ("last_message_at", "contact_lost_at")]
        stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={c: stmt.excluded[c] for c in replaced})
        with self.transaction() as conn:
            for start in range(0, len(members), 5000):
                chunk = members[start : start + 5000]
                # Group member counts move by the difference with the members as stored.
                stored = self.load_members(conn, [m.id for m in chunk])
                tally = Tally()
                for m in chunk:
                    m.stored_groups = tuple(stored[m.id].groups) if m.id in stored else ()
                    _import_moves(tally, stored.get(m.id), m)
                self.add_group_members(conn, group_deltas(chunk))
                conn.execute(stmt, [{"id": m.id, "first_seen": m.first_seen, **member_row(m)} for m in chunk])
                self.add_stats(conn, tally.changes())
                if done is not None:
                    done(len(chunk))

    def write_members(self, conn: Connection, members: Iterable[Member]) -> None:
        new, changed = [], []
        for m in members:
            if not m.dirty:
                continue
            row = member_values(m)
            if m.is_new:
                new.append((*row, m.id, m.first_seen))
            else:
                changed.append((row, m.stored, m.id))
            m.stored = row
            m.dirty = m.is_new = False
        self._bulk(conn, "members", (*MEMBER_COLUMNS, "id", "first_seen"), new)
        self._update_changed(conn, "members", MEMBER_COLUMNS, changed)

    def upsert_groups(self, conn: Connection, groups: Sequence[dict[str, Any]]) -> None:
        """Register groups inside a transaction (`simulate`, the demo); see also `put_groups`."""
        for group in groups:
            row = group_row(msgspec.convert(group, GroupRecord))
            stmt = self._insert(t.groups).values(id=group["id"], **row)
            conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=row))

    def ensure_groups(self, conn: Connection, ids: Sequence[str]) -> None:
        """Groups only seen in events exist, with no name or tags."""
        self._bulk(conn, "groups", ("id",), [(g,) for g in ids], " ON CONFLICT (id) DO NOTHING")

    def group_sizes(self, conn: Connection, group_ids: Iterable[str] | None = None) -> dict[str, int]:
        """How many members the store knows in each group (default: every group)."""
        # Kept up to date as members are written (`add_group_members`): no scan of members.
        if group_ids is None:
            return dict(self._select(conn, "SELECT id, member_count FROM groups"))
        ids = list(group_ids)
        sizes = dict.fromkeys(ids, 0)
        sizes.update(self._select_in(conn, "SELECT id, member_count FROM groups WHERE id IN ({ids})", ids))
        return sizes

    def load_groups(self, conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The groups of `ids` that exist, by id."""
        return {
            gid: {
                "id": gid,
                "name": name,
                "kind": kind,
                "tags": from_json(tags, []),
                "capacity": cap,
                "owner": owner,
            }
            for gid, name, kind, tags, cap, owner in self._select_in(conn, _GROUPS_SQL, list(ids))
        }

    # -- events --------------------------------------------------------------------------------------

    def known_event_ids(self, conn: Connection, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        return {
            row[0] for row in self._select_in(conn, "SELECT id FROM events WHERE id IN ({ids})", list(ids))
        }

    def insert_events(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        """Rows in the order of `EVENT_COLUMNS`."""
        self._bulk(conn, "events", EVENT_COLUMNS, rows)

    def message_times(self, conn: Connection, member_ids: Sequence[str], since: int) -> dict[str, list[int]]:
        """Times of each member's `message` events at or after `since`."""
        found: dict[str, list[int]] = {}
        sql = (
            "SELECT member_id, at FROM events "
            "WHERE type = 'message' AND at >= {mark} AND member_id IN ({{ids}})"
        )
        for member_id, at in self._select_in(conn, sql.format(mark=self._mark), list(member_ids), (since,)):
            found.setdefault(member_id, []).append(at)
        return found

    def load_events(self, conn: Connection, seqs: Iterable[int]) -> dict[int, dict[str, Any]]:
        seqs = list(seqs)
        if not seqs:
            return {}
        rows = conn.execute(select(t.events).where(t.events.c.seq.in_(seqs)))
        # As steps see them (`event.at` an ISO 8601 timestamp).
        return {r.seq: {**event_from_row(r), "at": from_us(r.at).isoformat()} for r in rows}

    # -- runs ----------------------------------------------------------------------------------------

    def entry_history(
        self, conn: Connection, member_ids: Sequence[str]
    ) -> dict[tuple[str, str], tuple[int, int]]:
        """Per (flow, member): (number of live runs, latest start) — what re-entry rules need."""
        rows = self._select_in(conn, _ENTRY_HISTORY_SQL, list(member_ids))
        return {(f, m): (n or 0, s) for f, m, n, s in rows}

    def event_waiting_runs(self, conn: Connection, member_ids: Sequence[str]) -> list[Run]:
        sql = _EVENT_WAITS_SQL + (" FOR UPDATE" if self.dialect == "postgresql" else "")
        return [run_from_values(row) for row in self._select_in(conn, sql, list(member_ids))]

    def claim_due(self, conn: Connection, now: int, limit: int) -> list[Run]:
        """Waiting runs whose wake time has come and that no worker holds, in the order they became due."""
        sql = _DUE_SQL.format(
            mark=self._mark, lock=" FOR UPDATE SKIP LOCKED" if self.dialect == "postgresql" else ""
        )
        return [run_from_values(row) for row in self._select(conn, sql, (now, now, limit))]

    def next_wake(self) -> int | None:
        with self.engine.connect() as conn:
            return self._select(conn, "SELECT MIN(wake_at) FROM runs WHERE wake_at IS NOT NULL")[0][0]

    def write_runs(self, conn: Connection, runs: Iterable[Run]) -> None:
        new, changed = [], []
        for r in runs:
            if not r.dirty:
                continue
            row = run_values(r)
            if r.is_new:
                new.append(run_insert_values(r))
            else:
                changed.append((row, r.stored, r.id))
            r.stored = row
            r.dirty = r.is_new = False
        self._bulk(conn, "runs", NEW_RUN_COLUMNS, new)
        self._update_changed(conn, "runs", RUN_COLUMNS, changed)

    def live_journey_runs(self, conn: Connection, journey: int) -> list[Run]:
        c = t.runs.c
        return [
            run_from_row(r)
            for r in conn.execute(select(t.runs).where(c.journey == journey, c.status.in_(LIVE)))
        ]

    def get_run(self, conn: Connection, run_id: int) -> Run:
        row = conn.execute(select(t.runs).where(t.runs.c.id == run_id)).first()
        if row is None:
            raise NotFound(f"no run {run_id}")
        return run_from_row(row)

    # -- deliveries and counters -----------------------------------------------------------------------

    def insert_deliveries(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        """Rows in the order of `DELIVERY_COLUMNS`, or all of them followed by the `staff` and `notify`
        columns (tasks, and deliveries a run waits for); a key already there is not written again."""
        if not rows:
            return
        columns = DELIVERY_COLUMNS if len(rows[0]) == len(DELIVERY_COLUMNS) else MARKED_DELIVERY_COLUMNS
        written = self._bulk(conn, "deliveries", columns, rows, " ON CONFLICT (key) DO NOTHING")
        if written < len(rows):  # some keys were there already: count only the rows made now
            ids = [row[_DELIVERY_ID] for row in rows]
            made = {i for (i,) in self._select_in(conn, "SELECT id FROM deliveries WHERE id IN ({ids})", ids)}
            rows = [row for row in rows if row[_DELIVERY_ID] in made]
        self._deliveries_moved(
            conn,
            (
                (r[_DELIVERY_KIND], r[_DELIVERY_AT], None, delivery_metric(r[_DELIVERY_STATUS], None))
                for r in rows
            ),
        )

    def connector_version(self, conn: Connection) -> int:
        """The connector settings' version: it changes with every change of settings or routes."""
        c = t.sequences.c
        return conn.execute(select(c.value).where(c.name == CONNECTOR_SETTINGS)).scalar() or 0

    def tag_route(self, conn: Connection) -> str | None:
        """The connector the route for `tag` names, None when there is none."""
        c = t.connector_routes.c
        return conn.execute(select(c.connector).where(c.kind == "tag")).scalar()

    def add_counts(
        self, conn: Connection, counts: Mapping[tuple[str, str, str, int] | tuple[str, str, str], int]
    ) -> None:
        """Add to the node counters, by (flow, node, counter, version); a key without a version counts
        under version 0."""
        rows = sorted(
            (key[0], key[3] if len(key) > 3 else 0, key[1], key[2], value) for key, value in counts.items()
        )
        self._bulk(
            conn,
            "node_counts",
            ("flow_id", "version", "node", "counter", "value"),
            rows,
            " ON CONFLICT (flow_id, version, node, counter)"
            " DO UPDATE SET value = node_counts.value + excluded.value",
        )


MARKED_DELIVERY_COLUMNS = (*DELIVERY_COLUMNS, "staff", "notify")
_DELIVERY_ID, _DELIVERY_KIND, _DELIVERY_AT, _DELIVERY_STATUS = (
    DELIVERY_COLUMNS.index(name) for name in ("id", "kind", "at", "status")
)


def _import_moves(tally: Tally, stored: Member | None, imported: Member) -> None:
    """An imported member's rollup moves: stage moves on the import's day (its `first_seen`, which the
    store keeps only for a new member), the rest by the day the member first came."""
    before = stored_facts(stored) if stored is not None else None
    kept = stored if stored is not None else imported
    after = member_facts(
        imported.channel,
        kept.first_seen,
        kept.contact_lost_at,
        imported.stage,
        imported.total_spend,
        imported.order_count,
        kept.last_message_at,
        imported.groups,
    )
    tally.member_moved(before, after, local_day(imported.first_seen))


# Statements a batch runs every time, built once (building them costs more than running them).
_RUN_FIELDS = ", ".join(RUN_FIELDS)
# Due runs that no worker holds, in the order they became due.
_DUE_SQL = (
    "SELECT " + _RUN_FIELDS + " FROM runs "
    "WHERE wake_at <= {mark} AND (lease_until IS NULL OR lease_until <= {mark}) "
    "ORDER BY wake_at, due_seq, id LIMIT {mark}{lock}"
)
_EVENT_WAITS_SQL = (
    "SELECT " + _RUN_FIELDS + " FROM runs WHERE wait_event IS NOT NULL AND member_id IN ({ids}) ORDER BY id"
)
ID_BLOCK = 10_000
# The row of `sequences` that counts connector setting changes (engine.connectors.settings.VERSION).
CONNECTOR_SETTINGS = "connector_settings"
# The execution option that marks a connection of `Store.transaction` (a writer).
_WRITER = "qunflow_writer"
# The hottest reads, as SQL for the driver itself; `{ids}` becomes the markers of an id list.
_GROUPS_SQL = "SELECT id, name, kind, tags, capacity, owner FROM groups WHERE id IN ({ids})"
_MEMBERS_SQL = "SELECT " + ", ".join(MEMBER_FIELDS) + " FROM members WHERE id IN ({ids})"
_ENTRY_HISTORY_SQL = (
    "SELECT flow_id, member_id, SUM(CASE WHEN status IN ('active', 'waiting') THEN 1 ELSE 0 END), "
    "MAX(started_at) FROM runs WHERE member_id IN ({ids}) GROUP BY flow_id, member_id"
)


def _create_private(url: str) -> None:
    """Make a new SQLite database file readable by its owner only (0600): it holds password hashes
    and sealed secrets. SQLite gives its -wal and -shm files the same mode."""
    import os

    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:
        pass  # a missing folder or no permission: connecting says so, as one clear error


def _dialect_insert(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    raise Conflict(f"unsupported database `{dialect}`: use SQLite or PostgreSQL")
