"""The columns and chart of the `flows` report (DESIGN §17), for its rows function (goals and
holdouts, DESIGN §16) to be registered with in one line:

    register("flows", flows_report, COLUMNS, CHART, TITLE, EMPTY)

Until then the report is not offered anywhere.
"""

from __future__ import annotations

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
CHART = Chart("bar", "flow", ("conversion_rate", "holdout_conversion_rate"))
TITLE = ("流程效果", "Flows")
EMPTY = (
    "还没有流程效果：给流程设置目标（settings.goal）并发布后，这里显示每个流程的转化率和对照组提升。",
    "No flow results yet: give a flow a goal (settings.goal) and publish it; each flow's conversion "
    "rate and lift over its holdout show here.",
)
