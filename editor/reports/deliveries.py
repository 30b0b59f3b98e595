"""`deliveries`: per day (the day a delivery was made) and kind, how many were made and what became
of them: still pending, sent, recorded (nothing left the server), awaiting confirmation, failed,
skipped by the touch budget or by a quota, cancelled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from qunflow.engine.rollup import DELIVERY, day_number, day_of
from qunflow.engine.store import Store

from .period import MAX_DAYS, local_days
from .registry import Chart, Column

# Column key → the delivery metric it sums (engine.rollup.delivery_metric).
METRICS = {
    "made": "made",
    "pending": "pending",
    "sent": "sent",
    "recorded": "recorded",
    "awaiting_confirmation": "awaiting_confirmation",
    "failed": "failed",
    "skipped_budget": "skipped:budget",
    "skipped_quota": "skipped:quota",
    "cancelled": "cancelled",
}
COLUMNS = (
    Column("day", "日期", "Day", "day"),
    Column("kind", "类型", "Kind", "text"),
    Column("made", "生成", "Made"),
    Column("pending", "待发送", "Pending"),
    Column("sent", "已发送", "Sent"),
    Column("recorded", "已记录（未发送）", "Recorded (not sent)"),
    Column("awaiting_confirmation", "待确认", "Awaiting confirmation"),
    Column("failed", "失败", "Failed"),
    Column("skipped_budget", "因触达预算跳过", "Skipped: touch budget"),
    Column("skipped_quota", "因额度跳过", "Skipped: quota"),
    Column("cancelled", "已取消", "Cancelled"),
)


def deliveries_report(store: Store, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """One row per day and kind that made deliveries, by day then kind."""
    first, last = local_days(start, end)
    found: dict[tuple[int, str], dict[str, float]] = {}
    for day, kind, metric, value in store.sum_stats(
        DELIVERY, day_number(first), day_number(last), by=("day", "key", "metric")
    ):
        found.setdefault((day, kind), {})[metric] = value
    rows = []
    for (day, kind), values in sorted(found.items()):
        if not values.get("made"):
            continue
        row: dict[str, Any] = {"day": day_of(day).isoformat(), "kind": kind}
        row.update({key: int(round(values.get(metric, 0))) for key, metric in METRICS.items()})
        rows.append(row)
    return rows


CHART = Chart("bar", "day", ("made", "sent", "recorded", "failed"), limit=MAX_DAYS)
TITLE = ("投递结果", "Deliveries")
EMPTY = (
    "所选时间内没有投递：发布一个会发消息或优惠券的流程后，这里按天显示投递结果。",
    "No deliveries in this period: once a published flow sends messages or coupons, each day's "
    "deliveries show here.",
)
