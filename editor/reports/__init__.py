"""The reports of DESIGN §17: a registry of definitions (`registry`), the rows of each, the JSON and
CSV API (`api`) and the pages with charts (`pages`). The catalogue below is the order pages list them.
"""

from . import channels, deliveries, flows, funnel, groups
from .registry import REPORTS, Chart, Column, Report, register

register("funnel", funnel.funnel_report, funnel.COLUMNS, funnel.CHART, funnel.TITLE, funnel.EMPTY)
register(
    "channels", channels.channels_report, channels.COLUMNS, channels.CHART, channels.TITLE, channels.EMPTY
)
register("groups", groups.groups_report, groups.COLUMNS, groups.CHART, groups.TITLE, groups.EMPTY)
register(
    "deliveries", deliveries.deliveries_report, deliveries.COLUMNS, deliveries.CHART, deliveries.TITLE,
    deliveries.EMPTY,
)  # fmt: skip
register("flows", flows.flows_rows, flows.COLUMNS, flows.CHART, flows.TITLE, flows.EMPTY)

__all__ = ["REPORTS", "Chart", "Column", "Report", "register"]
