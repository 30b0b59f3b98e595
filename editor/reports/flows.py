"""The `flows` report (DESIGN §17): per flow, entered, converted and the lift over its holdout (goals
and holdouts, DESIGN §16), messages sent and deliveries failed — read from the engine's daily flow
counters (`engine.results.flows_report`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from qunflow.engine.results import flows_report
from qunflow.engine.store import Store

from .registry import Chart, Column

COLUMNS = (
    Column("flow", "流程", "Flow", "text"),
    Column("name", "名称", "Name", "text"),
    Column("entered", "进入", "Entered"),
    Column("converted", "转化", "Converted"),
    Column("conversion_rate", "转化率", "Conversion rate", "share"),
    Column("holdout_conversion_rate", "对照组转化率", "Holdout conversion rate", "share"),
    Column("lift", "提升", "Lift", "share"),
    Column("messages_sent", "已发送消息", "Messages sent"),
    Column("deliveries_failed", "失败投递", "Deliveries failed"),
)
CHART = Chart("bar", "flow", ("conversion_rate", "holdout_conversion_rate"), name="name")
TITLE = ("流程效果", "Flows")
EMPTY = (
    "还没有流程效果：给流程设置目标（settings.goal）并发布后，这里显示每个流程的转化率和对照组提升。",
    "No flow results yet: give a flow a goal (settings.goal) and publish it; each flow's conversion "
    "rate and lift over its holdout show here.",
)


def flows_rows(store: Store, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The rows for the period from local midnight `start` up to local midnight `end` (excluded):
    the engine's figures for those days, both included, with the lift as a share like the rates."""
    rows = flows_report(store, start.date(), (end - timedelta(days=1)).date())
    for row in rows:
        if row["lift"] is not None:
            row["lift"] = row["lift"] / 100  # percentage points → a share of members
    return rows
