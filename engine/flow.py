"""The flow document (DESIGN §4, a contract): what operators draw and the API stores."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from .fields import Comparison
from .workdays import CalendarName

SCHEMA_VERSION = 1

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
Identifier = Annotated[str, Meta(pattern=ID_PATTERN)]
# A node setting that names another flow: publishing checks that it exists, and the editor offers
# the flows there are.
FlowRef = Annotated[str, Meta(pattern=ID_PATTERN, extra_json_schema={"format": "flow-id"})]
TimeOfDay = Annotated[
    str, Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", extra_json_schema={"format": "time-of-day"})
]


class Position(msgspec.Struct, frozen=True):
    x: float = 0
    y: float = 0


class Node(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: Identifier
    type: str
    config: dict[str, Any] = {}
    label: str | None = None
    position: Position | None = None


class Edge(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename={"source": "from"}):
    source: str
    to: str
    port: str = "next"


class QuietHours(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    start: TimeOfDay
    end: TimeOfDay


class FrequencyCap(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    messages: Annotated[int, Meta(ge=1)]
    per: timedelta


class Goal(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a flow is for (DESIGN §16): a run converts when an event of type `event` (matching
    `where`) comes for its member after it started and no later than `within` after; with `exit`,
    a run still going then ends there."""

    event: Annotated[str, Meta(min_length=1, max_length=200)]
    within: timedelta
    where: Comparison | list[Comparison] | None = None
    exit: bool = True


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # "once", "always", or an ISO 8601 duration such as "P30D".
    reentry: str = "once"
    quiet_hours: QuietHours | None = None
    frequency_cap: FrequencyCap | None = None
    # Which dates are working days for nodes set to `on: workday|offday` (DESIGN §18).
    calendar: CalendarName = "cn"
    # The flow's goal and the percent of entering members held out as a control group (DESIGN §16).
    goal: Goal | None = None
    holdout: Annotated[int, Meta(ge=0, le=50)] = 0
    # Which dates are working days for nodes set to `on: workday|offday` (DESIGN §18); absent: the
    # community's calendar (community settings, `cn` unless an admin chose `none`).
    calendar: CalendarName | None = None
    # The cross-flow touch budget (DESIGN §18): who goes first among messages to one member at one
    # moment (higher first), and what a message over the budget does: wait for room, or not be sent.
    priority: Annotated[int, Meta(ge=1, le=10)] = 5
    over_budget: Literal["wait", "skip"] = "wait"


class Flow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: Identifier
    nodes: list[Node]
    edges: list[Edge] = []
    name: str = ""
    timezone: str = "Asia/Shanghai"
    settings: Settings = Settings()
    schema_version: int = SCHEMA_VERSION
    description: str = ""


def reentry_interval(reentry: str) -> timedelta | None:
    """The re-entry rule as a waiting time: None for "once", zero for "always"."""
    if reentry == "once":
        return None
    if reentry == "always":
        return timedelta(0)
    return msgspec.convert(reentry, timedelta)


def decode_flow(data: bytes | str | dict[str, Any]) -> Flow:
    """Decode a flow document; raises msgspec errors for the caller to turn into problems."""
    if isinstance(data, dict):
        return msgspec.convert(upgrade(data), Flow)
    if not isinstance(data, bytes | str):  # already-decoded JSON that is not an object
        raise msgspec.ValidationError("Expected `object`, got `" + type(data).__name__ + "`")
    raw = msgspec.json.decode(data)
    if not isinstance(raw, dict):
        raise msgspec.ValidationError("Expected `object`, got `" + type(raw).__name__ + "`")
    return msgspec.convert(upgrade(raw), Flow)


# Stored documents are upgraded by a chain of small functions, one per schema version step.
UPGRADES: dict[int, Any] = {}


def upgrade(raw: dict[str, Any]) -> dict[str, Any]:
    version = raw.get("schema_version", SCHEMA_VERSION)
    while isinstance(version, int) and version in UPGRADES:
        raw = UPGRADES[version](raw)
        version = raw["schema_version"]
    return raw
