"""`trigger.schedule`: runs on a cron schedule in the flow's timezone (DESIGN §5).

The engine fires it (see `engine.schedule`): one run per member in the `audience`, or one run with no
member (a group-level SOP) when there is no audience.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from msgspec import Meta

from qunflow.sdk import Audience, Config, Context, DayKind, trigger, valid_cron

Cron = Annotated[str, Meta(min_length=9, max_length=200, extra_json_schema={"format": "cron"})]


class Schedule(Config):
    # Five fields: minute hour day-of-month month day-of-week, e.g. `0 8 * * *` for 08:00 daily.
    cron: Cron
    audience: Audience | None = None
    # `workday` / `offday`: fire only at cron moments whose local date is a working day / a day off.
    on: DayKind = "any"

    def __post_init__(self) -> None:
        if not valid_cron(self.cron):
            raise ValueError(f"`{self.cron}` is not a five-field cron expression like `0 8 * * *`")


@trigger(
    "trigger.schedule",
    schedule=lambda config: config.cron,
    audience=lambda config: config.audience,
    title={"zh": "定时触发", "en": "Schedule"},
    description={
        "zh": "按 cron 定时（流程时区）：按人群每人一条旅程，或不设人群时一条群级旅程",
        "en": "On a cron schedule (flow timezone): one run per member of the audience, or one for the group",
    },
    icon="calendar",
)
def schedule(ctx: Context, config: Schedule) -> bool:
    rule = ctx.day_rule(config.on)
    if rule is None:
        return True
    # The cron moment's own date decides, also for a fire that catches up on a missed tick. The fire
    # gives the tick in the flow's timezone already: its first ten characters are the local date, so
    # a fire to many members parses no datetime per member.
    tick = (ctx.event or {}).get("data", {}).get("tick")
    return rule(date.fromisoformat(tick[:10]) if tick else ctx.local_now.date())
