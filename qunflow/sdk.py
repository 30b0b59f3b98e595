"""The node SDK: everything a node author imports, from one module (DESIGN §2, §10).

    from qunflow.sdk import NEXT, Config, Context, Names, Outcome, action

    class AddTag(Config):
        tags: Names

    @action("acme.add_tag", title={"zh": "打标签", "en": "Add tag"}, icon="tag")
    def add_tag(ctx: Context, config: AddTag) -> Outcome:
        if ctx.member is not None:
            ctx.member.add_tags(config.tags)
        return NEXT

- **Declaring**: `action`, `condition`, `wait`, `trigger` check a declaration when its module is
  imported; a package hands its nodes to a `Registry` through the `qunflow.nodes` entry point group.
- **Configs** subclass `Config` (frozen, unknown fields refused); the setting types carry what the
  validator and the editor's form need beyond the Python type: `Template`, `FieldPath`, `FlowRef`,
  `ContentRef` (an item of the content library, 话术库),
  `TimeOfDay`, `Duration`, `Name`/`Names`, `Grade`, `Stage`, `Weekday`, `DayKind` (any day, working
  days or days off under the flow's calendar: `ctx.day_rule(on)`), `Audience`, `Comparison`; the
  bounds the store can hold (`MAX_POINTS`, `MAX_MONEY`, `MAX_COUNT`).
  Constraints are msgspec's `Meta` (re-exported here).
- **Stepping**: a step gets a `Context` and returns an outcome — `NEXT`, `Go(port)`, `branch(bool)`
  (`TRUE`/`FALSE`), `WaitUntil(at)`, `WaitFor(event, until)`, `EXIT`, `Fail(reason)`. It never does
  I/O, sleeps or reads the wall clock (`ctx.now` is the engine's time). A step that must know how its
  delivery went delivers with `ctx.deliver(..., wait=True)`, returns `WaitFor(DELIVERY_SETTLED)` and
  reads `ctx.settlement` when called again.
- **Helpers**: field paths and comparisons (`resolve`, `compare`, `holds`), wall-clock times in the
  flow's timezone with the DST rules of DESIGN §5 (`local_moment`, `next_time_of_day`, `in_window`,
  `parse_time`), working days (`is_workday`), cron expressions (`valid_cron`), texts with placeholders
  (`render`).

Tests of nodes use `qunflow.testing`.
"""

from msgspec import Meta

from qunflow.engine.audience import Audience
from qunflow.engine.config import Config, Duration, Grade, Name, Names, NoConfig, Stage, Weekday
from qunflow.engine.content import ContentItem, ContentRef
from qunflow.engine.context import Context
from qunflow.engine.event import DELIVERY_SETTLED
from qunflow.engine.fields import Comparison, FieldPath, Op, Template, compare, holds, render, resolve
from qunflow.engine.flow import FlowRef, TimeOfDay
from qunflow.engine.limits import MAX_COUNT, MAX_MONEY, MAX_POINTS
from qunflow.engine.localtime import WEEKDAYS, in_window, local_moment, next_time_of_day, parse_time
from qunflow.engine.member import Member
from qunflow.engine.outcome import (
    EXIT,
    FALSE,
    NEXT,
    TRUE,
    Exit,
    Fail,
    Go,
    Outcome,
    WaitFor,
    WaitUntil,
    branch,
)
from qunflow.engine.registry import NodeDeclarationError, NodeType, Registry, action, condition, trigger, wait
from qunflow.engine.schedule import valid_cron
from qunflow.engine.workdays import DayKind, is_workday

__all__ = [
    "DELIVERY_SETTLED",
    "EXIT",
    "FALSE",
    "NEXT",
    "TRUE",
    "MAX_COUNT",
    "MAX_MONEY",
    "MAX_POINTS",
    "WEEKDAYS",
    "Audience",
    "Comparison",
    "Config",
    "ContentItem",
    "ContentRef",
    "Context",
    "DayKind",
    "Duration",
    "Exit",
    "Fail",
    "FieldPath",
    "FlowRef",
    "Go",
    "Grade",
    "Member",
    "Meta",
    "Name",
    "Names",
    "NoConfig",
    "NodeDeclarationError",
    "NodeType",
    "Op",
    "Outcome",
    "Registry",
    "Stage",
    "Template",
    "TimeOfDay",
    "WaitFor",
    "WaitUntil",
    "Weekday",
    "action",
    "branch",
    "compare",
    "condition",
    "holds",
    "in_window",
    "is_workday",
    "local_moment",
    "next_time_of_day",
    "parse_time",
    "render",
    "resolve",
    "trigger",
    "valid_cron",
    "wait",
]
