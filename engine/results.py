"""What flows achieved (DESIGN §16, §17): goal figures from the counters the engine keeps as it runs,
and the `flows` report rows. Nothing here scans events or runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from .clock import to_us
from .goal import CONVERTED, ENTERED, FLOW, HOLDOUT_CONVERTED, HOLDOUT_ENTERED, converted_counter

if TYPE_CHECKING:
    from .compiler import Plan, PlanNode
    from .store import Store

Counts = Mapping[str, Mapping[str, int]]


def split_ports(node: PlanNode) -> tuple[str, ...]:
    """The branches of an A/B split node (`condition.split`, or any condition whose config shares
    members out by `branches: [{port, percent}]`); empty for other nodes."""
    branches = getattr(node.config, "branches", None)
    if node.kind != "condition" or not isinstance(branches, list | tuple):
        return ()
    if not all(hasattr(b, "port") and hasattr(b, "percent") for b in branches):
        return ()
    return tuple(b.port for b in branches)


def goal_figures(plan: Plan, counts: Counts) -> dict[str, Any]:
    """The `goals` entry of a flow (DESIGN §16) from its node counters ({node: {counter: value}}):
    runs entered and converted outside the control group, the control group's, and per split branch."""
    flow = counts.get(FLOW, {})
    by_branch: dict[str, dict[str, int]] = {}
    for node in plan.nodes.values():
        counters = counts.get(node.id, {})
        for port in split_ports(node):
            by_branch[f"{node.id}:{port}"] = {
                "entered": counters.get("port:" + port, 0),
                "converted": counters.get(converted_counter("port:" + port), 0),
            }
    return {
        "entered": flow.get(ENTERED, 0),
        "converted": flow.get(CONVERTED, 0),
        "holdout": {"entered": flow.get(HOLDOUT_ENTERED, 0), "converted": flow.get(HOLDOUT_CONVERTED, 0)},
        "by_branch": by_branch,
    }


def rate(converted: int, entered: int) -> float | None:
    """`converted / entered`, or None when nobody entered."""
    return converted / entered if entered else None


def lift(figures: Mapping[str, Any]) -> float | None:
    """Conversion outside the control group minus inside it, in percentage points (None while
    either group is empty)."""
    treated = rate(figures["converted"], figures["entered"])
    held = rate(figures["holdout"]["converted"], figures["holdout"]["entered"])
    if treated is None or held is None:
        return None
    return (treated - held) * 100


def flows_report(store: Store, start: date, end: date) -> list[dict[str, Any]]:
    """The `flows` report (DESIGN §17): one row per flow for the journeys that entered it from the
    local day `start` to the local day `end`, both included, in each flow's timezone.

    Columns: `flow`, `name`, `entered` (outside the control group), `converted` (of those, within
    the goal's window, whenever that was), `conversion_rate`, `holdout_entered`,
    `holdout_converted`, `holdout_conversion_rate`, `lift` (percentage points), `messages_sent`
    (message deliveries made in those days that the connector sent) and `deliveries_failed`
    (deliveries of any kind made in those days that failed). Rates are fractions; a rate of a group
    nobody entered, and a lift without both groups, are None. Flows without a goal have no converted
    figures (None). Read from the daily counters and the deliveries table's index by kind and time."""
    days = store.day_counts(start.isoformat(), end.isoformat())
    rows = []
    for flow in store.list_flows():
        flow_id = flow["id"]
        settings = _settings(store, flow_id)
        zone = ZoneInfo(settings.get("timezone") or "Asia/Shanghai")
        has_goal = settings.get("goal") is not None
        counters = days.get(flow_id, {})
        entered, converted = counters.get(ENTERED, 0), counters.get(CONVERTED, 0)
        held, held_converted = counters.get(HOLDOUT_ENTERED, 0), counters.get(HOLDOUT_CONVERTED, 0)
        first = to_us(datetime.combine(start, time(), zone))
        after = to_us(datetime.combine(end + timedelta(days=1), time(), zone))
        sent, failed = _delivery_figures(store, flow_id, first, after)
        figures = {
            "entered": entered,
            "converted": converted,
            "holdout": {"entered": held, "converted": held_converted},
        }
        rows.append(
            {
                "flow": flow_id,
                "name": flow["name"],
                "entered": entered,
                "converted": converted if has_goal else None,
                "conversion_rate": rate(converted, entered) if has_goal else None,
                "holdout_entered": held,
                "holdout_converted": held_converted if has_goal else None,
                "holdout_conversion_rate": rate(held_converted, held) if has_goal else None,
                "lift": lift(figures) if has_goal else None,
                "messages_sent": sent,
                "deliveries_failed": failed,
            }
        )
    return rows


def _settings(store: Store, flow_id: str) -> dict[str, Any]:
    """The live version's goal and timezone (the draft's, for a flow never published)."""
    record = store.get_flow(flow_id)
    document = (
        store.version_document(flow_id, record.live_version)
        if record.live_version is not None
        else record.draft
    )
    return {"timezone": document.get("timezone"), "goal": (document.get("settings") or {}).get("goal")}


def _delivery_figures(store: Store, flow_id: str, first: int, after: int) -> tuple[int, int]:
    from .store import schema as t

    c = t.deliveries.c
    sent = (c.kind == "message") & (c.status == "sent")
    stmt = select(func.count().filter(sent), func.count().filter(c.status == "failed")).where(
        c.flow_id == flow_id,
        c.at >= first,
        c.at < after,
        t.not_test(c),  # a test send is no result
    )
    with store.engine.connect() as conn:
        made, failed = conn.execute(stmt).one()
    return made or 0, failed or 0


__all__ = ["flows_report", "goal_figures", "lift", "rate", "split_ports"]
