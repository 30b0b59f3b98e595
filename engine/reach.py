"""How many members publishing a flow would reach (DESIGN §18, approval before large sends).

- Scheduled triggers and every node whose settings carry an audience (a broadcast's): the members in
  those audiences now, each counted once.
- Event triggers: the members the backtest of the last 30 days enters (`engine.backtest`).

The estimate is the larger of the two (a member reached both ways is one member, and which members
the backtest entered is not kept).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from .audience import Audience
from .backtest import backtest
from .clock import to_us
from .compiler import Plan, compile_flow
from .registry import Registry
from .store import Store

BACKTEST_DAYS = 30
# Members of an audience read per query while counting.
PAGE = 5000


def audiences(plan: Plan) -> list[Audience]:
    """The audiences a flow sends to: its scheduled triggers' and its nodes' (`audience` settings)."""
    found: list[Audience] = []
    for node in plan.nodes.values():
        if node.kind == "trigger":
            audience = node.node_type.audience_for(node.config)
        else:
            audience = getattr(node.config, "audience", None)
        if isinstance(audience, Audience):
            found.append(audience)
    return found


def audience_reach(store: Store, plan: Plan, now: datetime) -> int:
    """The members in any of the flow's audiences now, each counted once."""
    wanted = audiences(plan)
    if not wanted:
        return 0
    members: set[str] = set()
    now_us = to_us(now)
    with store.transaction() as conn:
        for audience in wanted:
            after: str | None = ""
            while after is not None:
                page, after = store.audience_page(conn, audience, now_us, after, PAGE)
                members.update(m.id for m in page)
    return len(members)


def has_event_trigger(plan: Plan) -> bool:
    """Whether events (not only the clock) start the flow."""
    return any(n.kind == "trigger" and n.node_type.schedule is None for n in plan.nodes.values())


def event_trigger_reach(
    store: Store, document: dict[str, Any], now: datetime, registry: Registry, elsewhere: Collection[str] = ()
) -> int:
    """The members the backtest of the last 30 days enters into the flow (0 without event triggers)."""
    plan = compile_flow(document, registry)
    if not has_event_trigger(plan):
        return 0
    return backtest(store, document, BACKTEST_DAYS, now, registry=registry, elsewhere=elsewhere).entered


def estimated_reach(
    store: Store, document: dict[str, Any], now: datetime, registry: Registry, elsewhere: Collection[str] = ()
) -> int:
    """How many members publishing `document` would reach: the larger of its audiences now and the
    members its event triggers entered over the last 30 days."""
    plan = compile_flow(document, registry)
    return max(
        audience_reach(store, plan, now), event_trigger_reach(store, document, now, registry, elsewhere)
    )


__all__ = ["audience_reach", "audiences", "estimated_reach", "event_trigger_reach"]
