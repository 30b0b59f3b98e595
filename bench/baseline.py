"""W in plain Python on sqlite3 or psycopg, with batched transactions: the floor a durable Python
engine is measured against (DESIGN §13, §21).

It does what the engine must do for W and nothing more: events are stored once (idempotent on their
id), members upserted with their tags and groups, runs parked with an indexed wake time, and on wake
each run's coupon and invite or nudge written to an outbox keyed for exactly-once, in transactions of
one batch each. On SQLite: the same WAL and synchronous settings as the engine's store. On PostgreSQL:
plain psycopg 3, one connection, `executemany` (which psycopg pipelines), inserts as multi-row statements,
and its tables analyzed as they grow, as the engine's store does. Same batch size on both.
The SQL is written once, with `?` placeholders; :class:`Postgres` turns them into psycopg's.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import reference as w
from .measure import Stopwatch, journey_figures, sqlite_file_bytes

BATCH = 500
CHUNK = 10_000
DAY_US = 86_400_000_000

SCHEMA = """
CREATE TABLE members (id TEXT PRIMARY KEY, name TEXT, tags TEXT, groups TEXT, first_seen INTEGER NOT NULL,
                      last_message_at INTEGER);
CREATE TABLE groups (id TEXT PRIMARY KEY, tags TEXT, size INTEGER NOT NULL DEFAULT 0);
CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, member_id TEXT,
                     group_id TEXT, at INTEGER NOT NULL, data TEXT);
CREATE INDEX ix_events_member_type_at ON events (member_id, type, at);
CREATE TABLE runs (id INTEGER PRIMARY KEY, flow_id TEXT NOT NULL, member_id TEXT, node TEXT NOT NULL,
                   status TEXT NOT NULL, wake_at INTEGER, started_at INTEGER NOT NULL, ended_at INTEGER);
CREATE INDEX ix_runs_wake ON runs (wake_at);
CREATE INDEX ix_runs_flow_member ON runs (flow_id, member_id);
CREATE TABLE deliveries (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, run_id INTEGER, member_id TEXT,
                         node TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL, at INTEGER NOT NULL);
"""


class Sqlite:
    """The baseline's database: a sqlite3 file, in autocommit mode with explicit transactions."""

    backend = "sqlite3"

    def __init__(self, path: str) -> None:
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Iterable[tuple]:
        return self.db.execute(sql, params)

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        self.db.executemany(sql, rows)

    def size(self) -> int:
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return sqlite_file_bytes(self.path)

    def close(self) -> None:
        self.db.close()


class Postgres:
    """The baseline's database: a PostgreSQL schema through one psycopg 3 connection."""

    backend = "psycopg"

    def __init__(self, url: str) -> None:
        import psycopg

        self.db = psycopg.connect(
            re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql://", url), autocommit=True
        )
        self.db.execute(SCHEMA.replace("INTEGER", "BIGINT"))
        self._next_check = 0.0
        self._tables: list[int] = []

    def begin(self) -> None:
        self.db.execute("BEGIN")

    def commit(self) -> None:
        self.db.execute("COMMIT")
        if time.monotonic() >= self._next_check:
            self._analyze()

    def _analyze(self) -> None:
        """What the engine's store does on PostgreSQL (`engine.store.statistics`), and what any
        tuned implementation on a server without autovacuum must do: analyze a table once it has
        changed by more than its size since last analyzed. Without statistics every lookup by a
        list of ids reads the whole table, and each batch costs as much as all before it."""
        self._next_check = time.monotonic() + 1.0
        if not self._tables:
            self._tables = [
                oid
                for (oid,) in self.db.execute(
                    "SELECT oid FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
                    "AND relkind = 'r'"
                )
            ]
        stale = self.db.execute(
            "SELECT relname FROM pg_class WHERE oid = ANY(%s::oid[]) "
            "AND pg_stat_get_mod_since_analyze(oid) > 1000 + GREATEST(reltuples, 0) ORDER BY relname",
            [self._tables],
        ).fetchall()
        for (name,) in stale:
            self.db.execute(f'ANALYZE "{name}"')

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Iterable[tuple]:
        # Without parameters psycopg sends the text as it is (a `%` stays a `%`).
        return self.db.execute(self._sql(sql), params) if params else self.db.execute(sql)

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        """Inserts as one multi-row statement (what a tuned plain implementation sends); other
        statements through psycopg's `executemany`, which pipelines them."""
        if not rows:
            return
        head, values, tail = sql.partition(" VALUES (")
        if head.startswith("INSERT") and values:
            row, _, rest = tail.partition(")")
            many = ", ".join([f"({row})"] * len(rows))
            self.db.execute(self._sql(f"{head} VALUES {many}{rest}"), [v for r in rows for v in r])
        else:
            self.db.cursor().executemany(self._sql(sql), rows)

    def size(self) -> int:
        (size,) = self.db.execute(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
        ).fetchone()
        return int(size)

    def close(self) -> None:
        self.db.close()


def open_database(where: str) -> Sqlite | Postgres:
    """A new, empty baseline database: `where` is a SQLite file path or a postgresql:// URL."""
    return Postgres(where) if where.startswith(("postgresql", "postgres")) else Sqlite(where)


# One encoder for every row, as a tuned plain implementation would have.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _us(moment: Any) -> int:
    return int(moment.timestamp() * 1_000_000)


def _marks(count: int) -> str:
    return ",".join("?" * count)


class Baseline:
    def __init__(self, members: int, where: str) -> None:
        self.members = members
        self.db = open_database(where)
        self.pool = w.vip_pool(members)
        self.db.execute("INSERT INTO groups (id, tags) VALUES (?, ?)", (w.FANS_GROUP, _dumps(["fans"])))
        self.db.executemany("INSERT INTO groups (id) VALUES (?)", [(g,) for g in self.pool])
        self.next_seq = 1
        self.next_run = 1
        self.next_delivery = 1
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}
        self.events = 0
        self.bytes_before = self._bytes()
        self.bytes_parked = self.bytes_before

    def _bytes(self) -> int:
        return self.db.size()

    def _fresh(self, events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = [e["id"] for e in events]
        known = {
            r[0] for r in self.db.execute(f"SELECT id FROM events WHERE id IN ({_marks(len(ids))})", ids)
        }
        fresh = []
        for event in events:
            if event["id"] not in known:
                known.add(event["id"])
                fresh.append(event)
        return fresh

    def _store_events(self, events: list[dict[str, Any]]) -> None:
        rows = []
        for e in events:
            data = _dumps(e["data"]) if e.get("data") else None
            rows.append((self.next_seq, e["id"], e["type"], e["member"], e.get("group"), e["at"], data))
            self.next_seq += 1
        self.db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    # -- park ----------------------------------------------------------------------------------------

    def park(self) -> None:
        now = _us(w.T0)
        self._note("park", self._timed(w.join_event, lambda batch: self._park_batch(batch, now)))
        self.bytes_parked = self._bytes()

    def _note(self, phase: str, watch: Stopwatch) -> None:
        self.seconds[phase] = watch.wall
        self.cpu_seconds[phase] = watch.cpu

    def _timed(self, make: Callable[[int], dict[str, Any] | None], step: Callable[[list], None]) -> Stopwatch:
        """Make every member's event (untimed), `CHUNK` at a time, and time `step` over batches."""
        watch = Stopwatch()
        for start in range(0, self.members, CHUNK):
            made = (make(i) for i in range(start, min(start + CHUNK, self.members)))
            events = [_plain(e) for e in made if e is not None]
            self.events += len(events)
            with watch:
                for first in range(0, len(events), BATCH):
                    step(events[first : first + BATCH])
        return watch

    def _park_batch(self, events: list[dict[str, Any]], now: int) -> None:
        db = self.db
        db.begin()
        fresh = self._fresh(events)
        ids = sorted({e["member"] for e in fresh})
        marks = _marks(len(ids))
        members = {
            r[0]: [r[1], json.loads(r[2]) if r[2] else [], json.loads(r[3]) if r[3] else []]
            for r in db.execute(f"SELECT id, name, tags, groups FROM members WHERE id IN ({marks})", ids)
        }
        entered = {
            r[0]
            for r in db.execute(
                f"SELECT member_id FROM runs WHERE flow_id = ? AND member_id IN ({marks})", [w.FLOW_ID, *ids]
            )
        }
        fans = {r[0] for r in db.execute("SELECT id FROM groups WHERE tags LIKE '%\"fans\"%'")}
        self._store_events(fresh)
        new_members, runs = {}, []
        for e in fresh:
            mid = e["member"]
            member = members.get(mid)
            if member is None:
                member = members[mid] = new_members[mid] = [None, [], []]
            profile = e.get("profile") or {}
            if profile.get("name"):
                member[0] = profile["name"]
            if e["group"] not in member[2]:
                member[2].append(e["group"])
            if e["group"] in fans and mid not in entered:  # trigger.member_joined, re-entry `once`
                entered.add(mid)
                if "new" not in member[1]:
                    member[1].append("new")
                runs.append((self.next_run, w.FLOW_ID, mid, "wait_1d", "waiting", now + DAY_US, now, None))
                self.next_run += 1
        db.executemany(
            "INSERT INTO members (id, name, tags, groups, first_seen) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, tags = excluded.tags, "
            "groups = excluded.groups",
            [(mid, m[0], _dumps(m[1]), _dumps(m[2]), now) for mid, m in members.items()],
        )
        db.executemany("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", runs)
        db.commit()

    # -- chat ----------------------------------------------------------------------------------------

    def chat(self) -> None:
        self._note(
            "chat", self._timed(lambda i: w.chat_event(i) if w.is_active(i) else None, self._chat_batch)
        )

    def _chat_batch(self, events: list[dict[str, Any]]) -> None:
        db = self.db
        db.begin()
        fresh = self._fresh(events)
        self._store_events(fresh)
        db.executemany(
            "UPDATE members SET last_message_at = ? WHERE id = ?", [(e["at"], e["member"]) for e in fresh]
        )
        db.commit()

    # -- resume --------------------------------------------------------------------------------------

    def resume(self) -> None:
        now = _us(w.WAKE_AT)
        with Stopwatch() as watch:
            while self._resume_batch(now):
                pass
        self._note("resume", watch)

    def _resume_batch(self, now: int) -> bool:
        db = self.db
        db.begin()
        runs = db.execute(
            "SELECT id, member_id FROM runs WHERE wake_at <= ? ORDER BY wake_at, id LIMIT ?", (now, BATCH)
        )
        runs = list(runs)
        if not runs:
            db.commit()
            return False
        ids = sorted({mid for _, mid in runs})
        marks = _marks(len(ids))
        members = {
            r[0]: [r[1], json.loads(r[2]) if r[2] else []]
            for r in db.execute(f"SELECT id, name, groups FROM members WHERE id IN ({marks})", ids)
        }
        messages = dict(
            db.execute(
                f"SELECT member_id, COUNT(*) FROM events WHERE member_id IN ({marks}) AND type = 'message' "
                "AND at BETWEEN ? AND ? GROUP BY member_id",
                [*ids, now - DAY_US, now],
            )
        )
        sizes = dict(
            db.execute(f"SELECT id, size FROM groups WHERE id IN ({_marks(len(self.pool))})", self.pool)
        )
        joined: dict[str, list[str]] = {}
        deliveries, done = [], []
        for run_id, mid in runs:
            member = members[mid]
            deliveries.append(self._delivery(run_id, mid, "coupon", "coupon", {"coupon": w.COUPON}, now))
            node = "nudge"
            if messages.get(mid, 0) >= 1:
                node = "full"
                for group in self.pool:
                    if group in member[1]:
                        node = "vip"
                        break
                    if sizes[group] < w.CAPACITY:
                        sizes[group] += 1
                        member[1].append(group)
                        joined[mid] = member[1]
                        deliveries.append(self._delivery(run_id, mid, "vip", "invite", {"group": group}, now))
                        node = "vip"
                        break
            else:
                text = w.NUDGE.format(name=member[0] or "")
                deliveries.append(
                    self._delivery(run_id, mid, "nudge", "message", {"text": text, "to": "member"}, now)
                )
            done.append((node, now, run_id))
        db.executemany(
            "INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING", deliveries
        )
        db.executemany(
            "UPDATE runs SET node = ?, status = 'done', wake_at = NULL, ended_at = ? WHERE id = ?", done
        )
        db.executemany(
            "UPDATE members SET groups = ? WHERE id = ?",
            [(_dumps(g), mid) for mid, g in joined.items()],
        )
        db.executemany("UPDATE groups SET size = ? WHERE id = ?", [(s, g) for g, s in sizes.items()])
        db.commit()
        return True

    def _delivery(
        self, run_id: int, mid: str, node: str, kind: str, payload: dict[str, Any], now: int
    ) -> tuple:
        row = (
            self.next_delivery,
            f"{run_id}:{node}",
            run_id,
            mid,
            node,
            kind,
            _dumps(payload),
            now,
        )
        self.next_delivery += 1
        return row

    # -- results -------------------------------------------------------------------------------------

    def deliveries_by_member(self) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        for member, kind, count in self.db.execute(
            "SELECT member_id, kind, COUNT(*) FROM deliveries GROUP BY member_id, kind"
        ):
            found.setdefault(member, {})[kind] = count
        return found

    def figures(self) -> dict[str, Any]:
        n = self.members
        problems = w.outcome_problems(n, self.deliveries_by_member())
        return journey_figures(self, self.db.backend, problems)

    def close(self) -> None:
        self.db.close()


def _plain(event: dict[str, Any]) -> dict[str, Any]:
    """An event as plain JSON-like data, as it would arrive decoded from an HTTP body."""
    return {**event, "at": _us(event["at"])}


def measure(members: int, where: str) -> dict[str, Any]:
    """Run W for `members` in plain sqlite3 at `where` (a new file) or in plain psycopg at `where`
    (a postgresql:// URL of an empty schema) and return its figures."""
    baseline = Baseline(members, where)
    try:
        baseline.park()
        baseline.chat()
        baseline.resume()
        return baseline.figures()
    finally:
        baseline.close()
