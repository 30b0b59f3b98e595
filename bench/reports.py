"""The report pages at scale (DESIGN §17): each report's API answer over a community of N members
(default 1,000,000) and 30 days of events, against a plain baseline that counts the same things from
the stored events, members and deliveries, as a report without rollups would on every page view.

The community is written with bulk inserts (multi-row `executemany` on SQLite, COPY on PostgreSQL):
N members over 30 days, through 20 channels (a tenth through none), half of them in 200-member
groups; one join or contact event each, 3 messages per member in groups over the month, a purchase
for a fifth of them; one welcome delivery each, most recorded, some sent, failed or skipped by quota.
Its rollups are the cells the engine keeps as it writes (`engine.rollup`), counted by the same
functions as the rows are made. Each report is asked seven times through the app (in-process ASGI,
a viewer's token); the median and the slowest are kept, and so are the baseline's.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import msgspec

from qunflow.engine import SimClock, Store
from qunflow.engine.channel import ChannelRecord
from qunflow.engine.rollup import GROUP, STAGES, ZONE, Tally, local_day, member_facts

from .measure import backend, peak_rss_mb

NOW = datetime(2026, 11, 30, 20, 0, tzinfo=ZONE)
DAYS = 30
CHANNELS = 20
GROUP_SIZE = 200
MESSAGES_PER_MEMBER = 3
CHUNK = 50_000
REPORTS = ("funnel", "channels", "groups", "deliveries")
_US_DAY = 86_400_000_000
_encode = msgspec.json.encode


def _start_us() -> int:
    return int((NOW - timedelta(days=DAYS)).timestamp() * 1_000_000)


def _member_rows(members: int, tally: Tally) -> Iterator[list[tuple[Any, ...]]]:
    """Members as rows of (id, name, channel, groups, points, total_spend, order_count, stage,
    blacklisted, first_seen, last_message_at), a chunk at a time; their rollup cells into `tally`."""
    start, span = _start_us(), DAYS * _US_DAY
    grouped = members // 2
    for first in range(0, members, CHUNK):
        rows = []
        for i in range(first, min(first + CHUNK, members)):
            channel = None if i % 10 == 9 else f"ch-{i % CHANNELS:02d}"
            seen = start + (i * span) // members
            group = f"g-{i // GROUP_SIZE:05d}" if i < grouped else None
            stage = (*STAGES, None)[(0, 0, 0, 0, 1, 1, 2, 2, 3, 4)[i % 10]]
            bought = i % 5 == 0
            spend, orders = (float(50 + i % 200), 1) if bought else (0.0, 0)
            last = seen + (i % 7) * _US_DAY // 7 if i % 5 < 2 else None
            last = min(last, start + span) if last is not None else None
            groups = [group] if group else []
            rows.append((f"m-{i:07d}", f"用户{i}", channel, _encode(groups).decode() if groups else None,
                         0, spend, orders, stage, False, seen, last))  # fmt: skip
            facts = member_facts(channel, seen, None, stage, spend, orders, last, groups)
            tally.member_moved(None, facts, facts.cohort)
        yield rows


def _event_rows(members: int, tally: Tally) -> Iterator[list[tuple[Any, ...]]]:
    """Events as rows of (seq, id, type, member_id, group_id, channel, at, data): a join for each
    member in a group, a contact added for the others, messages in groups, purchases."""
    start, span = _start_us(), DAYS * _US_DAY
    grouped = members // 2
    seq = 0
    for first in range(0, members, CHUNK):
        rows = []
        for i in range(first, min(first + CHUNK, members)):
            member = f"m-{i:07d}"
            seen = start + (i * span) // members
            channel = None if i % 10 == 9 else f"ch-{i % CHANNELS:02d}"
            group = f"g-{i // GROUP_SIZE:05d}" if i < grouped else None
            seq += 1
            rows.append(
                (
                    seq,
                    f"e-{seq}",
                    "member_joined" if group else "contact_added",
                    member,
                    group,
                    channel,
                    seen,
                    None,
                )
            )
            if group:
                tally.add(GROUP, group, local_day(seen), "joins")
                for k in range(MESSAGES_PER_MEMBER):
                    at = min(seen + (k + 1) * (i % 97 + 1) * _US_DAY // 40, start + span)
                    seq += 1
                    rows.append((seq, f"e-{seq}", "message", member, group, None, at, '{"text":"hi"}'))
                    tally.add(GROUP, group, local_day(at), "messages")
            if i % 5 == 0:
                seq += 1
                rows.append((seq, f"e-{seq}", "purchase", member, None, None, seen, '{"amount":99}'))
        yield rows


def _delivery_rows(members: int, tally: Tally) -> Iterator[list[tuple[Any, ...]]]:
    """A welcome message to each member: (id, key, flow_id, node, run_id, member_id, kind, payload, at,
    status, attempts, next_attempt_at, reason)."""
    start, span = _start_us(), DAYS * _US_DAY
    statuses = ("recorded",) * 16 + ("sent", "sent", "failed", "skipped")
    for first in range(0, members, CHUNK):
        rows = []
        for i in range(first, min(first + CHUNK, members)):
            at = start + (i * span) // members
            status = statuses[i % 20]
            reason = "quota" if status == "skipped" else None
            rows.append((i + 1, f"welcome:{i}", "welcome", "hello", None, f"m-{i:07d}", "message",
                         '{"text":"欢迎"}', at, status, 1, None, reason))  # fmt: skip
            tally.delivery_moved("message", at, None, status if reason is None else f"skipped:{reason}")
        yield rows


_TABLES: dict[str, tuple[str, ...]] = {
    "members": (
        "id",
        "name",
        "channel",
        "groups",
        "points",
        "total_spend",
        "order_count",
        "stage",
        "blacklisted",
        "first_seen",
        "last_message_at",
    ),  # fmt: skip
    "events": ("seq", "id", "type", "member_id", "group_id", "channel", "at", "data"),
    "deliveries": (
        "id",
        "key",
        "flow_id",
        "node",
        "run_id",
        "member_id",
        "kind",
        "payload",
        "at",
        "status",
        "attempts",
        "next_attempt_at",
        "reason",
    ),  # fmt: skip
    "groups": ("id", "name", "member_count"),
    "daily_stats": ("topic", "day", "key", "metric", "value"),
}


def _write(store: Store, table: str, chunks: Iterator[list[tuple[Any, ...]]]) -> int:
    """Bulk insert: multi-row executemany on SQLite, COPY on PostgreSQL. Returns the rows written."""
    columns = _TABLES[table]
    written = 0
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for rows in chunks:
            if store.dialect == "postgresql":
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(columns))
                cursor.execute("BEGIN")
                cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
                cursor.execute("COMMIT")
            written += len(rows)
        raw.commit()
    finally:
        raw.close()
    return written


def build(store: Store, members: int) -> dict[str, Any]:
    """Write the community and its rollups; how many rows of each, and how long it took."""
    began = time.perf_counter()
    tally = Tally()
    written = {
        "members": _write(store, "members", _member_rows(members, tally)),
        "events": _write(store, "events", _event_rows(members, tally)),
        "deliveries": _write(store, "deliveries", _delivery_rows(members, tally)),
    }
    groups = (members // 2 + GROUP_SIZE - 1) // GROUP_SIZE
    sizes = [(f"g-{g:05d}", f"群 {g}", min(GROUP_SIZE, members // 2 - g * GROUP_SIZE)) for g in range(groups)]
    written["groups"] = _write(store, "groups", iter([sizes]))
    cells = [(topic, day, key, metric, value) for topic, key, day, metric, value in tally.changes()]
    written["daily_stats"] = _write(store, "daily_stats", iter([cells]))
    for n in range(CHANNELS):
        store.put_channel(ChannelRecord(f"ch-{n:02d}", f"渠道 {n}", 1000.0 + n), 0)
    if store.dialect == "postgresql":
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return {"rows": written, "build_s": round(time.perf_counter() - began, 1)}


def _timed(call: Callable[[], Any], times: int = 7) -> dict[str, float]:
    taken = []
    for _ in range(times):
        began = time.perf_counter()
        call()
        taken.append((time.perf_counter() - began) * 1000)
    return {"median_ms": round(statistics.median(taken), 1), "max_ms": round(max(taken), 1)}


def _baseline_queries(first_us: int, end_us: int, offset_us: int) -> dict[str, tuple[str, tuple[Any, ...]]]:
    """What each report would count from the stored rows on every page view, as plain SQL."""
    recent = end_us - 7 * _US_DAY
    day = f"((at + {offset_us}) / {_US_DAY})"
    return {
        "funnel": ("SELECT stage, COUNT(*) FROM members GROUP BY stage", ()),
        "channels": (
            "SELECT channel, COUNT(*), SUM(CASE WHEN contact_lost_at IS NULL THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN last_message_at >= {m} THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN order_count > 0 THEN 1 ELSE 0 END), SUM(total_spend) "
            "FROM members WHERE first_seen >= {m} AND first_seen < {m} GROUP BY channel",
            (recent, first_us, end_us),
        ),
        "groups": (
            "SELECT group_id, SUM(CASE WHEN type = 'member_joined' THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN type = 'member_left' THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN type = 'message' THEN 1 ELSE 0 END) FROM events "
            "WHERE group_id IS NOT NULL AND at >= {m} AND at < {m} GROUP BY group_id",
            (first_us, end_us),
        ),
        "deliveries": (
            f"SELECT {day}, kind, status, reason, COUNT(*) FROM deliveries WHERE at >= {{m}} AND at < {{m}} "
            f"GROUP BY {day}, kind, status, reason",
            (first_us, end_us),
        ),
    }


def _baseline(store: Store) -> dict[str, dict[str, float]]:
    """The plain baseline: the driver's own connection, the SQL of `_baseline_queries`."""
    end = NOW.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    first_us = int((end - timedelta(days=DAYS)).timestamp() * 1_000_000)
    end_us = int(end.timestamp() * 1_000_000)
    offset = int(NOW.utcoffset().total_seconds() * 1_000_000)  # type: ignore[union-attr]
    mark = "?" if store.dialect == "sqlite" else "%s"
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        found = {}
        for name, (sql, values) in _baseline_queries(first_us, end_us, offset).items():
            text = sql.replace("{m}", mark)
            found[name] = _timed(lambda text=text, values=values: cursor.execute(text, values).fetchall())
        return found
    finally:
        raw.close()


def measure(members: int, url: str) -> dict[str, Any]:
    import logging

    from litestar.testing import TestClient

    from qunflow.editor.app import create_app
    from qunflow.editor.services import Services

    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request would drown the figures
    store = Store.open(url)
    built = build(store, members)
    services = Services(store, clock=SimClock(NOW))
    token = services.accounts.create_token("viewer", services.now_us())[1]
    headers = {"Authorization": f"Bearer {token}"}
    reports: dict[str, Any] = {}
    with TestClient(create_app(services, worker=False)) as client:
        for name in REPORTS:
            answer = client.get(f"/api/reports/{name}", headers=headers)
            assert answer.status_code == 200, answer.text
            figures = _timed(lambda name=name: client.get(f"/api/reports/{name}", headers=headers))
            reports[name] = {**figures, "rows": len(answer.json()["rows"])}
    baseline = _baseline(store)
    services.close()
    ratio = {n: round(reports[n]["median_ms"] / baseline[n]["median_ms"], 3) for n in REPORTS}
    return {
        "backend": backend(url),
        "members": members,
        **built,
        "reports": reports,
        "baseline": baseline,
        "ratio_to_baseline": ratio,
        # As for the members list: the slowest report's median (a shared machine's worst moments are
        # in `max_ms`).
        "slowest_ms": max(r["median_ms"] for r in reports.values()),
        "peak_rss_mb": peak_rss_mb(),
    }
