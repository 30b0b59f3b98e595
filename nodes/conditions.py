"""Conditions: choose the port a run leaves by (DESIGN §5)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from msgspec import Meta

from qunflow.sdk import (
    Config,
    Context,
    DayKind,
    FieldPath,
    Go,
    Names,
    Op,
    Outcome,
    TimeOfDay,
    Weekday,
    branch,
    compare,
    condition,
    in_window,
    parse_time,
)

Port = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_\-]{1,40}$")]


class HasTag(Config):
    tags: Annotated[Names, Meta(min_length=1)]
    mode: Literal["any", "all"] = "any"


@condition(
    "condition.has_tag",
    title={"zh": "是否有标签", "en": "Has tag"},
    description={"zh": "成员是否带有任一 / 全部标签", "en": "Whether the member has any / all of the tags"},
    icon="tag",
)
def has_tag(ctx: Context, config: HasTag) -> Outcome:
    tags = set(ctx.member.tags) if ctx.member else set()
    test = all if config.mode == "all" else any
    return branch(test(t in tags for t in config.tags))


class Active(Config):
    within: timedelta
    min_messages: Annotated[int, Meta(ge=1)] = 1


@condition(
    "condition.active",
    title={"zh": "是否活跃", "en": "Is active"},
    description={
        "zh": "成员在时间窗内的发言数是否达标",
        "en": "Whether the member posted enough messages lately",
    },
    icon="activity",
)
def active(ctx: Context, config: Active) -> Outcome:
    return branch(ctx.message_count(ctx.now - config.within) >= config.min_messages)


class Attribute(Config):
    field: FieldPath
    op: Op = "eq"
    value: Any = None


@condition(
    "condition.attribute",
    title={"zh": "属性判断", "en": "Attribute check"},
    description={
        "zh": "比较成员或事件的字段，如积分、消费额、城市",
        "en": "Compare a field: points, spend, city, ...",
    },
    icon="sliders",
)
def attribute(ctx: Context, config: Attribute) -> Outcome:
    return branch(compare(config.op, ctx.get(config.field), config.value))


class InGroup(Config):
    groups: Annotated[Names, Meta(min_length=1)]


@condition(
    "condition.in_group",
    title={"zh": "是否在群内", "en": "In group"},
    description={"zh": "成员是否在任一指定群里", "en": "Whether the member is in any of the groups"},
    icon="users",
)
def in_group(ctx: Context, config: InGroup) -> Outcome:
    return branch(ctx.in_any_group(config.groups))


class Case(Config):
    port: Port
    op: Op = "eq"
    value: Any = None


class Switch(Config):
    field: FieldPath
    cases: Annotated[list[Case], Meta(min_length=1)]

    def __post_init__(self) -> None:
        ports = [c.port for c in self.cases]
        if len(set(ports)) != len(ports) or "default" in ports:
            raise ValueError("case ports must be unique and not `default`")


@condition(
    "condition.switch",
    ports=lambda config: [c.port for c in config.cases] + ["default"],
    title={"zh": "多路分支", "en": "Switch"},
    description={
        "zh": "按字段取值走不同分支，第一个匹配的生效",
        "en": "Branch on a field; the first matching case wins",
    },
    icon="git-branch",
)
def switch(ctx: Context, config: Switch) -> Outcome:
    value = ctx.get(config.field)
    for case in config.cases:
        if compare(case.op, value, case.value):
            return Go(case.port)
    return Go("default")


class Branch(Config):
    port: Port
    percent: Annotated[float, Meta(ge=0, le=100)]


class Split(Config):
    branches: Annotated[list[Branch], Meta(min_length=2)]

    def __post_init__(self) -> None:
        ports = [b.port for b in self.branches]
        if len(set(ports)) != len(ports):
            raise ValueError("branch ports must be unique")
        if abs(sum(b.percent for b in self.branches) - 100) > 1e-6:
            raise ValueError("branch percentages must add up to 100")


@condition(
    "condition.split",
    ports=lambda config: [b.port for b in config.branches],
    title={"zh": "A/B 分流", "en": "A/B split"},
    description={
        "zh": "按比例分流，同一成员总走同一分支",
        "en": "Split by percentage; a member always takes the same branch",
    },
    icon="shuffle",
)
def split(ctx: Context, config: Split) -> Outcome:
    who = ctx.member.id if ctx.member else str(ctx.run.id if ctx.run else "")
    point = ctx.fraction(ctx.flow_id, ctx.node_id, who) * 100
    total = 0.0
    for item in config.branches:
        total += item.percent
        if point < total:
            return Go(item.port)
    return Go(config.branches[-1].port)


class TimeWindow(Config):
    start: TimeOfDay
    end: TimeOfDay
    days: list[Weekday] | None = None
    # `workday` / `offday`: the day must also be a working day / a day off under the flow's calendar.
    on: DayKind = "any"

    def __post_init__(self) -> None:
        if parse_time(self.start) == parse_time(self.end):
            raise ValueError("`start` and `end` are the same time: the window would never be open")


@condition(
    "condition.time_window",
    title={"zh": "时间段判断", "en": "Time window"},
    description={
        "zh": "当前是否在指定星期与时段内（流程时区；可限工作日或休息日）",
        "en": "Whether now is within the days and hours (flow timezone; optionally working days or days off)",
    },
    icon="clock",
)
def time_window(ctx: Context, config: TimeWindow) -> Outcome:
    days = tuple(config.days) if config.days else None
    start, end = parse_time(config.start), parse_time(config.end)
    return branch(in_window(ctx.now, start, end, ctx.tz, days, ctx.day_rule(config.on)))
