"""The next moments a node would pick on the wall clock (DESIGN §18: the editor shows the next three).

Nothing here knows a node by name, and nothing computes a time a second way: the node's own step is
asked, with a context that holds only the time, the flow's timezone and its settings.

- A scheduled trigger: the cron fires after `after` (`engine.schedule.next_fire`, as the scheduler
  fires them), kept where the trigger's step takes the fire (its `on: workday`, say).
- A wait whose config names a time of day (`format: time-of-day`, as `wait.until_time`'s `time`):
  the moment its step waits until, for a run arriving at `after`, then just after that, and so on.
- A condition whose config names times of day (`condition.time_window`'s `start` and `end`): the
  moments at those times of day when its step turns to `true` (it was not a minute before).

Other nodes pick no moment of the clock: their list is empty.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import msgspec.inspect as mi

from .clock import to_us
from .compiler import Plan, PlanNode
from .context import Context
from .flow import Flow, Settings
from .localtime import SEARCH_DAYS, WEEKDAYS, local_moment, parse_time
from .outcome import Go, WaitUntil
from .registry import NodeType
from .schedule import fire_view, next_fire
from .workdays import DayName, day_name

log = logging.getLogger("qunflow.moments")

_TICK = timedelta(microseconds=1)
_MINUTE = timedelta(minutes=1)
# How many cron fires to look at for the few a trigger takes (an every-minute cron that only takes
# days off looks through a working week of fires).
MAX_FIRES = 20_000


class Moment(msgspec.Struct, frozen=True):
    """One moment, in the flow's timezone: when (`at`), its local `date`, `time` and `weekday`
    (`mon`..`sun`), and what the day is under the flow's calendar (`day`: `workday`, `weekend`,
    `makeup` for a make-up working day (调休上班), `holiday` for a day off on a weekday)."""

    at: str
    date: str
    time: str
    weekday: str
    day: DayName


def next_moments(
    node_type: NodeType, config: Any, timezone: str, settings: Settings, after: datetime, count: int = 3
) -> list[Moment]:
    """The next `count` moments after `after` that a node of `node_type` with `config` would pick, in
    a flow of `timezone` and `settings` (empty for a node that picks none). A flow without a
    calendar of its own follows the community's, `cn` unless the caller resolved another."""
    if settings.calendar is None:
        settings = msgspec.structs.replace(settings, calendar="cn")
    tz = ZoneInfo(timezone)
    probe = _Probe(node_type, config, tz, settings)
    try:
        if node_type.kind == "trigger":
            found = probe.fires(after, count)
        elif node_type.kind == "wait" and _times_of_day(node_type, config):
            found = probe.waits(after, count)
        elif node_type.kind == "condition" and _times_of_day(node_type, config):
            found = probe.openings(after, count, _times_of_day(node_type, config))
        else:
            found = []
    except Exception:  # a custom node's step that needs more than the time: it picks no moment here
        log.debug("%s: no moments (its step needs more than the time)", node_type.type, exc_info=True)
        found = []
    return [_moment(m, tz, settings) for m in found]


def _moment(moment: datetime, tz: ZoneInfo, settings: Settings) -> Moment:
    local = moment.astimezone(tz)
    day = local.date()
    return Moment(
        local.isoformat(),
        day.isoformat(),
        local.strftime("%H:%M"),
        WEEKDAYS[day.weekday()],
        day_name(day, settings.calendar),
    )


def _times_of_day(node_type: NodeType, config: Any) -> list[time]:
    """The times of day the config names (its fields of `format: time-of-day`), in order."""
    info = mi.type_info(node_type.config)
    found = set()
    for field in getattr(info, "fields", ()):
        kind = field.type
        if isinstance(kind, mi.Metadata) and (kind.extra_json_schema or {}).get("format") == "time-of-day":
            value = getattr(config, field.name, None)
            if isinstance(value, str):
                found.add(parse_time(value))
    return sorted(found)


class _Probe:
    """Calls a node's step with a context that holds the time and the flow's settings, nothing else."""

    # What a context asks of its batch, with nothing behind it: no member, no run, no community.
    community: Any = None
    now: datetime
    now_us: int

    def __init__(self, node_type: NodeType, config: Any, tz: ZoneInfo, settings: Settings) -> None:
        self.config = config
        self.step: Callable[..., Any] = node_type.step
        flow = Flow(id="moments", nodes=[], timezone=tz.key, settings=settings)
        self.plan = Plan(flow, 0, tz, {}, {}, None, False)
        self.node = PlanNode(
            "node",
            node_type.kind,
            node_type,
            config,
            node_type.step,
            {},
            ("moments", "node", "entered", 0),
            {},
        )
        self.cron = node_type.cron_for(config) if node_type.kind == "trigger" else None

    def ask(self, now: datetime, event: dict[str, Any] | None = None) -> Any:
        self.now, self.now_us = now, to_us(now)
        ctx = Context(self)  # type: ignore[arg-type]
        ctx._bind(self.plan, self.node, None, None, event)
        return self.step(ctx, self.config)

    def run_event(self, run: Any) -> None:
        return None

    def fires(self, after: datetime, count: int) -> list[datetime]:
        found: list[datetime] = []
        if not self.cron:
            return found
        moment = after
        for _ in range(MAX_FIRES):
            fire = next_fire(self.cron, self.plan.tz, moment)
            if fire is None:
                break
            if self.ask(fire, fire_view(self.plan, self.node.id, self.cron, to_us(fire), fire)) is True:
                found.append(fire)
                if len(found) == count:
                    break
            moment = fire
        return found

    def waits(self, after: datetime, count: int) -> list[datetime]:
        found: list[datetime] = []
        moment = after
        while len(found) < count:
            outcome = self.ask(moment)
            if isinstance(outcome, WaitUntil):
                moment = outcome.at
            elif not isinstance(outcome, Go):  # a failure, or a wait for an event
                break
            found.append(moment)
            moment += _TICK
        return found

    def openings(self, after: datetime, count: int, times: list[time]) -> list[datetime]:
        found: list[datetime] = []
        start = after.astimezone(self.plan.tz).date()
        for offset in range(SEARCH_DAYS):
            day = start + timedelta(days=offset)
            for at in times:
                moment = local_moment(day, at, self.plan.tz)
                if moment > after and self._true(moment) and not self._true(moment - _MINUTE):
                    found.append(moment)
                    if len(found) == count:
                        return found
        return found

    def _true(self, moment: datetime) -> bool:
        return self.ask(moment) == Go("true")


__all__ = ["Moment", "next_moments"]
