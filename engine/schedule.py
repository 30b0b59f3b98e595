"""Cron schedules in a flow's timezone, with the DST rules of DESIGN §5 ("Cron").

croniter walks the *wall clock* (naive local times); each wall time is then placed on the real
timeline by :func:`engine.localtime.local_moment`: a skipped time fires at the first valid moment
after the gap, a repeated time fires once (its first occurrence). Two wall times that land on the
same moment (an hourly job across a gap) fire once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from croniter import croniter

from .batch import Batch
from .clock import from_us, to_us
from .localtime import local_moment

if TYPE_CHECKING:
    from .compiler import Plan, PlanNode
    from .engine import Engine

# The wall clock of `after` may sit in a repeated hour; start the walk this far back to be sure no
# tick is missed, and stop looking after a few years (a cron like `0 0 30 2 *` never matches).
_LOOKBACK = timedelta(hours=3)
_MAX_TICKS = 100_000


def valid_cron(expression: str) -> bool:
    """Whether a five-field cron expression is valid."""
    return len(expression.split()) == 5 and croniter.is_valid(expression)


def next_fire(expression: str, tz: ZoneInfo, after: datetime) -> datetime | None:
    """The first moment strictly after `after` at which the cron fires in `tz`, or None if never."""
    wall = after.astimezone(tz).replace(tzinfo=None) - _LOOKBACK
    ticks = croniter(expression, wall)
    for _ in range(_MAX_TICKS):
        tick: datetime = ticks.get_next(datetime)
        moment = local_moment(tick.date(), tick.time(), tz)
        if moment > after:
            return moment
    return None


def _live_schedules(engine: Engine) -> dict[tuple[str, str], tuple[Plan, PlanNode, str]]:
    return {
        (plan.id, node.id): (plan, node, node.node_type.cron_for(node.config))
        for plan in engine.flows.live_plans()
        for node in plan.schedules
    }


def sync_schedules(engine: Engine, now: datetime) -> None:
    """Give every scheduled trigger of a live flow its stored state; a new or changed cron fires next
    after `now` (nothing is caught up for a schedule the engine has never run)."""
    live = _live_schedules(engine)
    if not live:
        return
    with engine.store.transaction() as conn:
        stored = engine.store.schedule_states(conn)
        for (flow_id, node_id), (plan, _, cron) in sorted(live.items()):
            state = stored.get((flow_id, node_id))
            timezone = plan.flow.timezone
            if state is not None and state["cron"] == cron and state["timezone"] == timezone:
                continue
            upcoming = next_fire(cron, plan.tz, now)
            engine.store.put_schedule(
                conn,
                flow_id,
                node_id,
                {
                    "cron": cron,
                    "timezone": timezone,
                    "next_fire": to_us(upcoming) if upcoming else None,
                    "firing": None,
                    "cursor": None,
                },
            )


def next_schedule_fire(engine: Engine) -> datetime | None:
    """When the next scheduled trigger of a live flow is due (now, if a fire is under way)."""
    at = engine.store.next_schedule_fire(_live_schedules(engine))
    return from_us(at) if at is not None else None


def fire_due_schedules(engine: Engine, now: datetime) -> int:
    """Fire every scheduled trigger that is due at `now`, one batch per transaction; returns how many
    runs started. Ticks missed while the engine was down collapse into one catch-up fire."""
    live = _live_schedules(engine)
    if not live:
        return 0
    sync_schedules(engine, now)
    now_us = to_us(now)
    started = 0
    store = engine.store
    while True:
        with store.transaction() as conn:
            state = store.claim_schedule(conn, live, now_us)
            if state is None:
                return started
            plan, node, cron = live[(state["flow_id"], state["node"])]
            values: dict[str, Any] = {}
            tick, cursor = state["firing"], state["cursor"]
            if tick is None:
                tick, cursor = state["next_fire"], ""
                upcoming = next_fire(cron, plan.tz, now)
                values["next_fire"] = to_us(upcoming) if upcoming else None
            view = _fire_view(plan, node.id, cron, tick, now)
            audience = node.node_type.audience_for(node.config)
            if audience is None:
                batch = Batch(engine, conn, now, ())
                started += batch.fire_schedule(plan, node, [None], view)
                cursor = None
            else:
                page, cursor = store.audience_page(conn, audience, now_us, cursor, engine.batch_size)
                batch = Batch(engine, conn, now, [m.id for m in page])
                started += batch.fire_schedule(plan, node, [batch.members[m.id] for m in page], view)
            batch.process()
            batch.flush()
            if cursor is None:
                values.update(firing=None, cursor=None, last_fire=tick)
            else:
                values.update(firing=tick, cursor=cursor)
            store.update_schedule(conn, plan.id, node.id, values)


def _fire_view(plan: Plan, node_id: str, cron: str, tick: int, now: datetime) -> dict[str, Any]:
    """What `event.*` shows to a run a cron fire started."""
    return {
        "seq": None,
        "id": f"schedule:{plan.id}:{node_id}:{tick}",
        "type": "schedule",
        "member": None,
        "group": None,
        "channel": None,
        "at": now.astimezone(plan.tz).isoformat(),
        "data": {"cron": cron, "tick": from_us(tick).astimezone(plan.tz).isoformat()},
    }


__all__ = ["fire_due_schedules", "next_fire", "next_schedule_fire", "sync_schedules", "valid_cron"]
