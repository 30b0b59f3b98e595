"""Backtest (DESIGN §17, §21): each flow template over 30 days of N stored members' events.

The community is `bench.month`'s (one seed): N members add a staff account and join a group over the
first 20 days, half chat on a few days, some buy or click a link. It is stored first, in a process of
its own, by an engine with no flow live (so the store holds events and members, no runs); that part is
not timed. A second fresh process backtests every template in `flows/` over the 30 days before "now"
(the end of the month), one after another, as the publish dialog would: each copies the community
into its scratch store, replays the events from the real store in time order and counts the result.

The baseline, in the same process and on the same store, is the floor of any backtest: reading the
span's events in time order with plain sqlite3 and decoding their data, nothing else.
"""

from __future__ import annotations

import os
import sqlite3
import time
from datetime import timedelta
from typing import Any

import msgspec

from qunflow.engine import Engine, Event, SimClock, Store, settle
from qunflow.engine.backtest import backtest
from qunflow.engine.clock import to_us
from qunflow.flows import load_template, template_names

from . import month
from . import reference as w
from .measure import peak_rss_mb, per_second

NOW = w.T0.replace(hour=0) + timedelta(days=month.DAYS)
CHUNK = 20_000


def store_community(members: int, url: str) -> dict[str, Any]:
    """The month's members, groups and events, taken in by an engine with no flow live."""
    started = time.perf_counter()
    store = Store.open(url)
    try:
        known = month.groups()
        store.put_groups(known)
        fans = [g.id for g in known if "fans" in g.tags] or [w.FANS_GROUP]
        raw = sorted(month.community(members, fans), key=lambda e: e["at"])
        engine = Engine(store, clock=SimClock(NOW), batch_size=2000)
        for start in range(0, len(raw), CHUNK):
            engine.ingest(msgspec.convert(raw[start : start + CHUNK], list[Event]))
        return {"members": members, "events": len(raw), "load_s": round(time.perf_counter() - started, 2)}
    finally:
        store.close()


def measure(members: int, url: str) -> dict[str, Any]:
    """Backtest every template over the stored month; time each, and the plain read of the events."""
    settle()
    store = Store.open(url)
    try:
        baseline = _plain_read(url.removeprefix("sqlite:///"))
        templates: dict[str, Any] = {}
        total = 0.0
        for name in template_names():
            started, cpu = time.perf_counter(), time.process_time()
            result = backtest(store, load_template(name), month.DAYS, NOW)
            seconds = time.perf_counter() - started
            total += seconds
            templates[name] = {
                "seconds": round(seconds, 2),
                # The process's own CPU time: on a shared machine, the wall time less what others took.
                "cpu_seconds": round(time.process_time() - cpu, 2),
                "events_per_s": per_second(result.events, seconds),
                "entered": result.entered,
                "deliveries": result.deliveries_total,
                "messages": result.messages,
            }
        slowest = max(templates.values(), key=lambda t: t["seconds"])
        events = baseline["events"]
        return {
            "members": members,
            "days": month.DAYS,
            "events": events,
            "templates": templates,
            "slowest_s": slowest["seconds"],
            "total_s": round(total, 2),
            "total_cpu_s": round(sum(t["cpu_seconds"] for t in templates.values()), 2),
            "events_per_s": per_second(events * len(templates), total),
            "peak_rss_mb": peak_rss_mb(),
            "load_average": round(os.getloadavg()[0], 1),
            "baseline": baseline,
            "ratio_events_per_s": round(
                per_second(events * len(templates), total) / baseline["events_per_s"], 4
            ),
        }
    finally:
        store.close()


def _plain_read(path: str) -> dict[str, Any]:
    """The floor: the span's events in time order with plain sqlite3, their data decoded."""
    since, until = to_us(NOW - timedelta(days=month.DAYS)), to_us(NOW)
    started = time.perf_counter()
    connection = sqlite3.connect(path)
    try:
        count = 0
        decode = msgspec.json.decode
        rows = connection.execute(
            "SELECT seq, id, type, member_id, group_id, channel, at, data FROM events "
            "WHERE at >= ? AND at <= ? ORDER BY at, seq",
            (since, until),
        )
        for row in rows:
            if row[7]:
                decode(row[7])
            count += 1
    finally:
        connection.close()
    seconds = time.perf_counter() - started
    return {"events": count, "seconds": round(seconds, 3), "events_per_s": per_second(count, seconds)}
