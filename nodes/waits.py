"""Waits: park the run durably and pick it up later (DESIGN §5). Durations count from arrival."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from msgspec import Meta

from qunflow.sdk import (
    NEXT,
    Comparison,
    Config,
    Context,
    DayKind,
    Duration,
    Fail,
    Go,
    Outcome,
    TimeOfDay,
    WaitFor,
    WaitUntil,
    Weekday,
    holds,
    next_time_of_day,
    parse_time,
    wait,
)

from .common import where_scope

Positive = Duration


class Delay(Config):
    duration: Positive

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0):
            raise ValueError("duration must be positive")


@wait(
    "wait.delay",
    title={"zh": "等待一段时间", "en": "Delay"},
    description={"zh": "等待指定时长，如 1 天（P1D）", "en": "Wait for a duration such as one day (P1D)"},
    icon="hourglass",
)
def delay(ctx: Context, config: Delay) -> Outcome:
    due = ctx.entered_at + config.duration
    return NEXT if ctx.now >= due else WaitUntil(due)


class UntilTime(Config):
    time: TimeOfDay
    days: Annotated[list[Weekday], Meta(min_length=1)] | None = None
    # `workday`: only on working days under the flow's calendar (调休 included); `offday`: only on days off.
    on: DayKind = "any"


@wait(
    "wait.until_time",
    title={"zh": "等到某个时刻", "en": "Wait until time"},
    description={
        "zh": "等到下一个指定时刻（可限星期、工作日或休息日），如下一个工作日早上 9 点",
        "en": "Wait until the next such time of day (optionally on given weekdays, working days or days off)",
    },
    icon="alarm-clock",
)
def until_time(ctx: Context, config: UntilTime) -> Outcome:
    days = tuple(config.days) if config.days else None
    due = next_time_of_day(ctx.entered_at, parse_time(config.time), ctx.tz, days, ctx.day_rule(config.on))
    if due is None:
        return Fail(f"no day within a year is both in `days` and a {config.on} under the flow's calendar")
    return NEXT if ctx.now >= due else WaitUntil(due)


class ForEvent(Config):
    event: Annotated[str, Meta(min_length=1, max_length=200)]
    timeout: Positive
    where: Comparison | list[Comparison] | None = None


@wait(
    "wait.for_event",
    ports=("event", "timeout"),
    title={"zh": "等待事件", "en": "Wait for event"},
    description={
        "zh": "等待成员的某个事件（如下单），超时走另一分支",
        "en": "Wait for the member's event (e.g. a purchase), or time out",
    },
    icon="inbox",
)
def for_event(ctx: Context, config: ForEvent) -> Outcome:
    woke = ctx.wake_event
    deadline = ctx.entered_at + config.timeout
    if (
        woke is not None
        and woke["type"] == config.event
        # An event from after the deadline came too late, even if the timeout has not been stepped yet.
        and datetime.fromisoformat(woke["at"]) <= deadline
        and holds(config.where, where_scope(ctx))
    ):
        return Go("event")
    if ctx.now >= deadline:
        return Go("timeout")
    return WaitFor(config.event, until=deadline)
