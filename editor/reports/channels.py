"""`channels`: what each channel (`member.channel`) brought in the period. Every figure is about the
members who came through the channel in the period: how many came, how many are still a contact,
how many posted in the last 7 days, how many bought and for how much — set against what the channel
cost (entered on the channels page)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from qunflow.engine.rollup import CHANNEL, CHANNEL_ACTIVE, NO_CHANNEL, ZONE, day_number
from qunflow.engine.store import Store

from .period import local_days
from .registry import Chart, Column

ACTIVE_DAYS = 7
COLUMNS = (
    Column("channel", "渠道", "Channel", "text"),
    Column("name", "名称", "Name", "text"),
    Column("added", "新增成员", "Members added"),
    Column("contacts", "仍是好友", "Still a contact"),
    Column("active_7d", "近 7 天活跃", "Active in 7 days"),
    Column("purchasers", "购买人数", "Purchasers"),
    Column("revenue", "收入", "Revenue", "money"),
    Column("cost", "成本", "Cost", "money"),
    Column("profit", "收入 − 成本", "Revenue − cost", "money"),
    Column("cost_per_purchaser", "每购买人成本", "Cost per purchaser", "money"),
)


def channels_report(store: Store, start: datetime, end: datetime, now: datetime) -> list[dict[str, Any]]:
    """One row per channel that brought members in the period or has a cost entered; most members
    first. Members who came through no channel are the row whose channel is empty."""
    first, last = local_days(start, end)
    cohorts = (day_number(first), day_number(last))
    figures: dict[str, dict[str, float]] = {}
    for channel, metric, value in store.sum_stats(CHANNEL, *cohorts):
        figures.setdefault(channel, {})[metric] = value
    today = now.astimezone(ZONE).date()
    recent = (day_number(today - timedelta(days=ACTIVE_DAYS - 1)), day_number(today))
    for channel, cohort, value in store.sum_stats(CHANNEL_ACTIVE, *recent):
        if cohorts[0] <= int(cohort) <= cohorts[1]:
            found = figures.setdefault(channel, {})
            found["active_7d"] = found.get("active_7d", 0) + value
    entered = {c.id: c for c in store.list_channels()}
    rows = []
    for channel in sorted({*figures, *entered}):
        values = figures.get(channel, {})
        record = entered.get(channel)
        cost = record.cost if record is not None else 0.0
        revenue = round(values.get("revenue", 0.0), 2)
        purchasers = int(round(values.get("purchasers", 0)))
        rows.append(
            {
                "channel": channel if channel != NO_CHANNEL else None,
                "name": record.name if record is not None else None,
                "added": int(round(values.get("added", 0))),
                "contacts": int(round(values.get("contacts", 0))),
                "active_7d": int(round(values.get("active_7d", 0))),
                "purchasers": purchasers,
                "revenue": revenue,
                "cost": cost,
                "profit": round(revenue - cost, 2),
                "cost_per_purchaser": round(cost / purchasers, 2) if purchasers else None,
            }
        )
    if not any(r["added"] for r in rows) and not entered:
        return []
    rows.sort(key=lambda r: (-r["added"], r["channel"] or ""))
    return rows


CHART = Chart("bar", "channel", ("added", "purchasers", "active_7d"), name="name")
TITLE = ("渠道效果", "Channels")
EMPTY = (
    "还没有渠道数据：在「渠道」页添加渠道并设置成本；"
    "成员带着渠道（渠道活码的 channel）进来后，这里显示每个渠道带来的成员和收入。",
    "No channel data yet: add channels and their costs on the Channels page; once members come in "
    "with a channel (the channel QR code's channel), each channel's members and revenue show here.",
)
