"""A broadcast (群发) to N members (DESIGN §21): a cron fire starts one run whose `action.broadcast`
audience matches every stored member; timed from the fire until all its deliveries are written.

The members are stored first, in a process of their own, so that the peak RSS measured is the
broadcast's. The flow has quiet hours and a frequency cap, as a real one would: the fire falls
outside the quiet hours and no member is at the cap, so every member gets one message now, and the
cap's look-up of earlier messages is paid for each of them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text

from qunflow.engine import Engine, SimClock, Store, default_registry, settle
from qunflow.engine.member import Member
from qunflow.engine.store import schema as t
from qunflow.engine.store.rows import member_row

from .measure import backend, peak_rss_mb, per_second

FLOW = "launch"
# 08:59:50 in Shanghai: the fire is ten seconds later, outside the quiet hours.
BEFORE_FIRE = datetime(2026, 3, 2, 0, 59, 50, tzinfo=UTC)
CHUNK = 10_000


def flow() -> dict[str, Any]:
    return {
        "id": FLOW,
        "timezone": "Asia/Shanghai",
        "settings": {
            "quiet_hours": {"start": "22:00", "end": "08:00"},
            "frequency_cap": {"messages": 3, "per": "P1D"},
        },
        "nodes": [
            {"id": "nine", "type": "trigger.schedule", "config": {"cron": "0 9 * * *"}},
            {
                "id": "news",
                "type": "action.broadcast",
                "config": {"audience": {"tags_any": ["fans"]}, "text": "{{ member.name }}，新品今天上架"},
            },
        ],
        "edges": [{"from": "nine", "to": "news"}],
    }


def store_members(members: int, url: str) -> dict[str, Any]:
    """N members tagged `fans`, with a plain multi-row insert (not what is measured)."""
    store = Store.open(url)
    started = time.perf_counter()
    try:
        insert = t.members.insert()
        for start in range(0, members, CHUNK):
            rows = []
            for i in range(start, min(start + CHUNK, members)):
                m = Member(f"m-{i:07d}", name=f"用户{i}", tags=["fans"], first_seen=0, is_new=True)
                rows.append({"id": m.id, "first_seen": 0, **member_row(m)})
            with store.transaction() as conn:
                conn.execute(insert, rows)
        if store.dialect == "postgresql":
            # As autovacuum would have by the time a store of a million members broadcasts: without
            # statistics the planner takes the new table for a small one and scans it whole.
            with store.transaction() as conn:
                conn.execute(text("ANALYZE members"))
    finally:
        store.close()
    return {"load_s": round(time.perf_counter() - started, 1)}


def measure(members: int, url: str) -> dict[str, Any]:
    """Fire the broadcast and step its run until it ends; the figures and the exactly-once check."""
    store = Store.open(url)
    try:
        clock = SimClock(BEFORE_FIRE)
        engine = Engine(store, default_registry(), clock)
        engine.deploy(flow())
        settle()
        engine.run_due()  # the schedule learns its next fire
        clock.advance_to(BEFORE_FIRE + timedelta(seconds=10))
        rss_before = peak_rss_mb()
        started = time.perf_counter()
        cpu = time.process_time()
        rounds = 0
        while True:
            rounds += 1
            engine.run_due()
            if not _open_runs(store) or rounds > members + 10:
                break
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        figures = _deliveries(store, members)
        statuses = store.journey_statuses(FLOW).get(FLOW, {})
    finally:
        store.close()
    return {
        "backend": backend(url),
        "members": members,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "deliveries_per_s": per_second(figures["deliveries"], seconds),
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_fire_mb": rss_before,
        "journeys": statuses,
        **figures,
    }


def _open_runs(store: Store) -> int:
    with store.engine.connect() as conn:
        c = t.runs.c
        stmt = select(func.count()).select_from(t.runs).where(c.flow_id == FLOW, c.status != "done")
        return conn.execute(stmt).scalar_one()


def _deliveries(store: Store, members: int) -> dict[str, Any]:
    """Counted by the database: each stored member exactly one message from the flow."""
    with store.engine.connect() as conn:
        total, distinct = conn.execute(
            text(
                "SELECT count(*), count(DISTINCT member_id) FROM deliveries "
                "WHERE flow_id = :f AND kind = 'message'"
            ),
            {"f": FLOW},
        ).one()
        twice = conn.execute(
            text(
                "SELECT member_id, count(*) FROM deliveries WHERE flow_id = :f "
                "GROUP BY member_id HAVING count(*) > 1 ORDER BY member_id LIMIT 5"
            ),
            {"f": FLOW},
        ).all()
    problems = [f"{m}: {n} deliveries" for m, n in twice]
    if distinct != members:
        problems.insert(0, f"{distinct} of {members} members got a message")
    return {"deliveries": total, "exactly_once": total == distinct == members, "problems": problems[:5]}
