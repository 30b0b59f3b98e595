"""Cron schedules in a flow's timezone, with the DST rules of DESIGN §5 ("Cron").

croniter walks the *wall clock* (naive local times); each wall time is then placed on the real
timeline by :func:`engine.localtime.local_moment`: a skipped time fires at the first valid moment
after the gap, a repeated time fires once (its first occurrence). Two wall times that land on the
same moment (an hourly job across a gap) fire once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from croniter import croniter

from .batch import Batch
from .clock import from_us, to_us
from .hooks import BatchDone, HookChain
from .localtime import local_moment

if TYPE_CHECKING:
    from .audience import Audience
    from .compiler import Plan, PlanNode
    from .connectors.tag_route import TagRoute
    from .flow_cache import FlowCache
    from .member import Member
    from .store.protocol import EngineStore, Tx

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


Live = dict[tuple[str, str], tuple["Plan", "PlanNode", str]]


@dataclass
class ScheduleCache:
    """What this process last read of the scheduled triggers' state, so that asking when the next
    fire is due, or whether one is due now, costs no query. It is read again whenever the live
    schedules change and after every fire; a stale entry only ever makes a fire look due early
    (the store then says it is not, and the cache is refreshed)."""

    signature: frozenset[tuple[str, str, str, str]] | None = None
    # When each live scheduled trigger is next due: its next tick, or the tick of a fire under way.
    due: dict[tuple[str, str], int | None] = field(default_factory=dict)


class Scheduler:
    """Fires the live flows' scheduled triggers (`trigger.schedule`) on a store, keeping their state
    there (`schedule_fires`) and what it last read of it in its own cache.

    It gets what it needs — the store, the flow cache, the batch size and the hooks — and nothing of
    the engine: the engine calls :meth:`sync` after a publish, :meth:`restart` when a flow resumes,
    :meth:`next_fire` to know when to wake, and :meth:`fire_due` when that moment has come."""

    def __init__(
        self,
        store: EngineStore,
        flows: FlowCache,
        batch_size: int,
        hooks: HookChain | None = None,
        tag_route: TagRoute | None = None,
    ) -> None:
        self.store = store
        self.tag_route = tag_route
        self.flows = flows
        self.batch_size = batch_size
        self.hooks = hooks or HookChain()
        self.cache = ScheduleCache()

    def _live(self) -> Live:
        return {
            (plan.id, node.id): (plan, node, node.node_type.cron_for(node.config))
            for plan in self.flows.live_plans()
            for node in plan.schedules
        }

    def _remember(self, live: Live, stored: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.cache.signature = _signature(live)
        self.cache.due = {
            key: (state["firing"] if state["firing"] is not None else state["next_fire"])
            for key, state in stored.items()
            if key in live
        }

    def sync(self, now: datetime) -> None:
        """Give every scheduled trigger of a live flow its stored state; a new or changed cron fires
        next after `now` (nothing is caught up for a schedule the engine has never run)."""
        live = self._live()
        if not live:
            self._remember(live, {})
            return
        store = self.store
        with store.transaction() as conn:
            stored = store.schedule_states(conn)
            for (flow_id, node_id), (plan, _, cron) in sorted(live.items()):
                state = stored.get((flow_id, node_id))
                timezone = plan.flow.timezone
                if state is not None and state["cron"] == cron and state["timezone"] == timezone:
                    continue
                upcoming = next_fire(cron, plan.tz, now)
                values = {
                    "cron": cron,
                    "timezone": timezone,
                    "next_fire": to_us(upcoming) if upcoming else None,
                    "firing": None,
                    "cursor": None,
                }
                store.put_schedule(conn, flow_id, node_id, values)
                stored[(flow_id, node_id)] = values
            self._remember(live, stored)

    def restart(self, flow_id: str, now: datetime) -> None:
        """A resumed flow's schedules fire next after `now`: ticks missed while it was paused are not
        caught up (the operator stopped it on purpose)."""
        plan = self.flows.live_plan(flow_id)
        if plan is None or not plan.schedules:
            return
        with self.store.transaction() as conn:
            for node in plan.schedules:
                upcoming = next_fire(node.node_type.cron_for(node.config), plan.tz, now)
                self.store.update_schedule(
                    conn,
                    flow_id,
                    node.id,
                    {"next_fire": to_us(upcoming) if upcoming else None, "firing": None, "cursor": None},
                )
        self.cache.signature = None

    def next_fire(self) -> datetime | None:
        """When the next scheduled trigger of a live flow is due (now, if a fire is under way)."""
        live = self._live()
        cache = self.cache
        if cache.signature != _signature(live):
            with self.store.transaction() as conn:
                self._remember(live, self.store.schedule_states(conn))
        at = min((due for due in cache.due.values() if due is not None), default=None)
        return from_us(at) if at is not None else None

    def fire_due(self, now: datetime) -> int:
        """Fire every scheduled trigger that is due at `now`, one batch per transaction; returns how
        many runs started. Ticks missed while the engine was down collapse into one catch-up fire."""
        live = self._live()
        if not live:
            return 0
        now_us = to_us(now)
        cache = self.cache
        if cache.signature == _signature(live) and len(cache.due) == len(live):
            if all(due is None or due > now_us for due in cache.due.values()):
                return 0
        else:
            self.sync(now)
        started = 0
        while True:
            fired = self._fire_one(live, now, now_us)
            if fired is None:
                return started
            count, done = fired
            started += count
            if done is not None:
                self.hooks.after_batch(done)

    def _fire_one(self, live: Live, now: datetime, now_us: int) -> tuple[int, BatchDone | None] | None:
        """One batch of the first due fire, committed: how many runs it started, and what to tell the
        hooks (None when no fire is due)."""
        store = self.store
        with store.transaction() as conn:
            state = store.claim_schedule(conn, live, now_us)
            if state is None:
                self._remember(live, store.schedule_states(conn))
                return None
            plan, node, cron = live[(state["flow_id"], state["node"])]
            values: dict[str, Any] = {}
            tick, cursor = state["firing"], state["cursor"]
            if tick is None:
                tick, cursor = state["next_fire"], ""
                upcoming = next_fire(cron, plan.tz, now)
                values["next_fire"] = to_us(upcoming) if upcoming else None
            view = fire_view(plan, node.id, cron, tick, now)
            audience = node.node_type.audience_for(node.config)
            if audience is None:
                batch = Batch(store, self.flows, conn, now, (), self.tag_route)
                started = batch.fire_schedule(plan, node, [None], view)
                cursor = None
            else:
                page, cursor = self._audience_page(conn, plan, audience, now_us, cursor)
                batch = Batch(store, self.flows, conn, now, [m.id for m in page], self.tag_route)
                started = batch.fire_schedule(plan, node, [batch.members[m.id] for m in page], view)
            batch.process()
            batch.flush()
            if cursor is None:
                values.update(firing=None, cursor=None, last_fire=tick)
            else:
                values.update(firing=tick, cursor=cursor)
            store.update_schedule(conn, plan.id, node.id, values)
            return started, self.hooks.summary(batch)

    def _audience_page(
        self, conn: Tx, plan: Plan, audience: Audience, now_us: int, after: str
    ) -> tuple[list[Member], str | None]:
        """The next page of a fire's audience. Only members the flow may take in now are loaded
        (`Batch.can_enter` still has the last word): a daily audience is mostly members its flow has
        already started, and re-reading them every day would cost more than the fire."""
        reentry = None if plan.reentry is None else int(plan.reentry.total_seconds() * 1_000_000)
        return self.store.audience_page(conn, audience, now_us, after, self.batch_size, (plan.id, reentry))


def _signature(live: Live) -> frozenset[tuple[str, str, str, str]]:
    return frozenset((f, n, cron, plan.flow.timezone) for (f, n), (plan, _, cron) in live.items())


def fire_view(plan: Plan, node_id: str, cron: str, tick: int, now: datetime) -> dict[str, Any]:
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


__all__ = ["ScheduleCache", "Scheduler", "fire_view", "next_fire", "valid_cron"]
