"""`groups`: each group's members now, its joins and leaves and messages in the period, messages per
member per day, and the share of its members who posted in the last 7 days; most active first."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from qunflow.engine.rollup import GROUP, GROUP_ACTIVE, ZONE, day_number
from qunflow.engine.store import Store

from .period import local_days
from .registry import Chart, Column

ACTIVE_DAYS = 7
COLUMNS = (
    Column("rank", "排名", "Rank"),
    Column("group", "群", "Group", "text"),
    Column("name", "群名", "Name", "text"),
    Column("members", "成员数", "Members"),
    Column("joins", "入群", "Joins"),
    Column("leaves", "退群", "Leaves"),
    Column("messages", "消息数", "Messages"),
    Column("messages_per_member_day", "人均日消息", "Messages per member a day", "number"),
    Column("active_share", "近 7 天活跃占比", "Active in 7 days", "share"),
)


def groups_report(store: Store, start: datetime, end: datetime, now: datetime) -> list[dict[str, Any]]:
    """One row per group, ranked by messages per member per day (then messages, then id)."""
    first, last = local_days(start, end, now)
    days = max((last - first).days + 1, 0)
    figures: dict[str, dict[str, float]] = {}
    if days:
        for group, metric, value in store.sum_stats(GROUP, day_number(first), day_number(last)):
            figures.setdefault(group, {})[metric] = value
    today = now.astimezone(ZONE).date()
    recent = (day_number(today - timedelta(days=ACTIVE_DAYS - 1)), day_number(today))
    active = {group: value for group, value in store.sum_stats(GROUP_ACTIVE, *recent, by=("key",))}
    rows = []
    # Sums of whole counts are whole: `int` keeps them exact (a report over thousands of groups).
    for group, name, members in store.group_names_and_sizes():
        values = figures.get(group)
        joins, leaves, messages = (
            (int(values.get("joins", 0)), int(values.get("leaves", 0)), int(values.get("messages", 0)))
            if values
            else (0, 0, 0)
        )
        rows.append(
            {
                "group": group,
                "name": name,
                "members": members,
                "joins": joins,
                "leaves": leaves,
                "messages": messages,
                "messages_per_member_day": round(messages / (members * days), 3)
                if members and days
                else None,
                "active_share": min(active.get(group, 0) / members, 1.0) if members else None,
            }
        )
    rows.sort(key=lambda r: (-(r["messages_per_member_day"] or 0), -r["messages"], r["group"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


CHART = Chart("bar", "group", ("messages_per_member_day",), limit=20, name="name")
TITLE = ("群活跃", "Group activity")
EMPTY = (
    "还没有群：在「群」页导入群，或等成员入群事件（member_joined）进来。",
    "No groups yet: import groups on the Groups page, or wait for members' member_joined events.",
)
