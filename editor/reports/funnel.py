"""`funnel`: members per lifecycle stage at each day's end (today: now), and the conversion between
adjacent stages — of the members who reached a stage, the share who reached the next one or beyond."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from qunflow.engine.rollup import STAGE, STAGES, day_number, days_between
from qunflow.engine.store import Store

from .period import MAX_DAYS, local_days
from .registry import Chart, Column

_STAGE_TITLES = {"prospect": ("潜客", "Prospects"), "customer": ("客户", "Customers"),
                 "member": ("会员", "Members"), "koc": ("KOC", "KOCs")}  # fmt: skip
COLUMNS = (
    Column("day", "日期", "Day", "day"),
    *(Column(s, *_STAGE_TITLES[s]) for s in STAGES),
    Column("to_customer", "潜客→客户", "Prospect → customer", "share"),
    Column("to_member", "客户→会员", "Customer → member", "share"),
    Column("to_koc", "会员→KOC", "Member → KOC", "share"),
)


def funnel_report(store: Store, start: datetime, end: datetime, now: datetime) -> list[dict[str, Any]]:
    """One row per day of the period up to today: each stage's members at the day's end."""
    first, last = local_days(start, end, now)
    moves = store.sum_stats(STAGE, None, day_number(last), by=("day", "key"))
    if not moves or last < first:
        return []
    by_day: dict[int, dict[str, float]] = {}
    for day, stage, value in moves:
        by_day.setdefault(day, {})[stage] = value
    counts = dict.fromkeys(STAGES, 0.0)
    wanted = {day_number(d): d for d in days_between(first, last)}
    rows = []
    for number in sorted({*by_day, *wanted}):
        for stage, value in by_day.get(number, {}).items():
            if stage in counts:
                counts[stage] += value
        if number in wanted:
            rows.append({"day": wanted[number].isoformat(), **_stage_row(counts)})
    return rows


def _stage_row(counts: dict[str, float]) -> dict[str, Any]:
    row: dict[str, Any] = {s: int(round(counts[s])) for s in STAGES}
    # Reaching a stage means being at it or beyond it now.
    reached = [sum(row[s] for s in STAGES[i:]) for i in range(len(STAGES))]
    for index, key in enumerate(("to_customer", "to_member", "to_koc"), start=1):
        row[key] = reached[index] / reached[index - 1] if reached[index - 1] else None
    return row


CHART = Chart("line", "day", STAGES, limit=MAX_DAYS)
TITLE = ("生命周期漏斗", "Lifecycle funnel")
EMPTY = (
    "还没有成员有生命周期阶段：用「生命周期」模板的流程设置 member.stage，或导入带 stage 列的成员。",
    "No member has a lifecycle stage yet: set member.stage with a flow from the 生命周期 template, "
    "or import members with a stage column.",
)
