"""The members list at scale (issue #14): pages of `Store.member_page` over N stored members.

Members are written through `put_members` (as `qunflow import` does): a tenth tagged `vip`, one in a
hundred blacklisted, all in one of 200 groups. Each query is timed five times; the median is kept.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from qunflow.engine import Store
from qunflow.engine.member import Member

from .measure import backend

QUERIES = {
    "first_page": {},
    "middle_page": {"offset": None},  # filled in: half the members in
    "search_name": {"q": "用户77777"},
    "search_id": {"q": "m-0777"},
    "tag_vip": {"tag": "vip"},
    "group": {"group": "g-042"},
    "blacklisted": {"blacklisted": True},
    "vip_in_group_page_3": {"tag": "vip", "group": "g-042", "offset": 100},
}


def _members(start: int, end: int) -> list[Member]:
    return [
        Member(
            f"m-{i:07d}",
            name=f"用户{i}",
            tags=["vip"] if i % 10 == 0 else [],
            groups=[f"g-{i % 200:03d}"],
            blacklisted=i % 100 == 0,
            first_seen=0,
            is_new=True,
        )
        for i in range(start, end)
    ]


def measure(members: int, url: str) -> dict[str, Any]:
    store = Store.open(url)
    try:
        started = time.perf_counter()
        for start in range(0, members, 100_000):
            store.put_members(_members(start, min(start + 100_000, members)))
        loaded = time.perf_counter() - started
        figures: dict[str, Any] = {}
        for name, query in QUERIES.items():
            args = {**query, "limit": 50}
            if "offset" in query and query["offset"] is None:
                args["offset"] = members // 2
            times, found = [], 0
            for _ in range(5):
                began = time.perf_counter()
                found = len(store.member_page(**args))
                times.append(time.perf_counter() - began)
            figures[name] = {"ms": round(statistics.median(times) * 1000, 1), "rows": found}
    finally:
        store.close()
    slowest = max(f["ms"] for f in figures.values())
    return {
        "backend": backend(url),
        "members": members,
        "load_s": round(loaded, 1),
        "pages": figures,
        "slowest_ms": slowest,
    }
