"""The API's answers, as msgspec structs (they are also the OpenAPI schema). Times are ISO 8601, UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from qunflow.engine.clock import from_us
from qunflow.engine.content import ContentItem
from qunflow.engine.member import PROFILE, Member, StaffRecord
from qunflow.engine.run import Run


def iso(us: int | None) -> datetime | None:
    if us is None:
        return None
    try:
        return from_us(us)
    except OverflowError:  # a row stored before moments were checked at the door (engine.limits)
        return (datetime.min if us < 0 else datetime.max).replace(tzinfo=UTC)


class FlowSummary(msgspec.Struct):
    id: str
    name: str
    live_version: int | None
    paused: bool
    runs: dict[str, int]


class VersionView(msgspec.Struct):
    version: int
    published_at: datetime | None
    document: dict[str, Any]


class FlowDetail(msgspec.Struct):
    id: str
    name: str
    draft: dict[str, Any]
    draft_updated_at: datetime | None
    live_version: int | None
    paused: bool
    versions: list[VersionView]


class ProblemView(msgspec.Struct):
    """A problem as the checker found it (`node`, `path`, `message`), and its message said for
    operators in 简体中文 (`zh`) and English (`en`)."""

    node: str | None
    path: str
    message: str
    zh: str
    en: str


class Validation(msgspec.Struct):
    valid: bool
    problems: list[ProblemView]


class Published(msgspec.Struct):
    flow: str
    version: int


class PauseState(msgspec.Struct):
    flow: str
    paused: bool


class NodeStats(msgspec.Struct):
    entered: int = 0
    waiting: int = 0
    # Runs that left the node, by output port.
    ports: dict[str, int] = {}


class FlowStats(msgspec.Struct):
    flow: str
    runs: dict[str, int]
    nodes: dict[str, NodeStats]


class Accepted(msgspec.Struct):
    accepted: int
    duplicate: int


class RunView(msgspec.Struct):
    id: int
    journey: int
    flow: str
    version: int
    member: str | None
    node: str
    status: str
    started_at: datetime | None
    entered_at: datetime | None
    ended_at: datetime | None
    wake_at: datetime | None
    wait_event: str | None
    error: str | None
    vars: dict[str, Any]

    @classmethod
    def of(cls, run: Run) -> RunView:
        return cls(
            id=run.id,
            journey=run.journey,
            flow=run.flow_id,
            version=run.version,
            member=run.member_id,
            node=run.node,
            status=run.status,
            started_at=iso(run.started_at),
            entered_at=iso(run.entered_at),
            ended_at=iso(run.ended_at),
            wake_at=iso(run.wake_at),
            wait_event=run.wait_event,
            error=run.error,
            vars=run.vars or {},
        )


class RunPage(msgspec.Struct):
    items: list[RunView]
    limit: int
    offset: int
    next_offset: int | None


class DeliveryView(msgspec.Struct):
    id: int
    at: datetime | None
    flow: str
    node: str
    run: int | None
    member: str | None
    kind: str
    payload: dict[str, Any]
    # pending, sent, failed, recorded (kept by the recording connector: nothing left the server),
    # awaiting_confirmation, skipped (with `reason`: quota, budget), cancelled (by an operator: never sent)
    status: str
    attempts: int
    error: str | None
    reason: str | None = None

    @classmethod
    def of(cls, row: dict[str, Any]) -> DeliveryView:
        return cls(**{**{k: row[k] for k in cls.__struct_fields__}, "at": iso(row["at"])})


class DeliveryPage(msgspec.Struct):
    items: list[DeliveryView]
    limit: int
    offset: int
    next_offset: int | None


def _member_view(cls: type, m: Member) -> Any:
    return cls(
        id=m.id,
        **{f.name: getattr(m, f.name) for f in PROFILE},
        first_seen=iso(m.first_seen),
        last_message_at=iso(m.last_message_at),
        contact_lost_at=iso(m.contact_lost_at),
    )


# A member as the API shows it: the profile as declared in the engine, and the activity as times.
MemberView = msgspec.defstruct(
    "MemberView",
    [
        ("id", str),
        *((f.name, f.type) for f in PROFILE),
        ("first_seen", datetime | None),
        ("last_message_at", datetime | None),
        # When the member deleted the contact (`contact_deleted`); null while they are a contact.
        ("contact_lost_at", datetime | None),
    ],
    namespace={"of": classmethod(_member_view)},
    module=__name__,
)


class TimelineEntry(msgspec.Struct):
    """One line of a member's timeline: an event, a run (a journey through a flow) or a delivery."""

    at: datetime | None
    kind: str  # "event", "run" or "delivery"
    title: str
    flow: str | None = None
    node: str | None = None
    status: str | None = None
    id: str | None = None
    data: dict[str, Any] = {}


class MemberDetail(msgspec.Struct):
    member: MemberView  # type: ignore[valid-type]
    timeline: list[TimelineEntry]


def page_next(count: int, limit: int, offset: int) -> int | None:
    return offset + limit if count == limit else None


class GroupView(msgspec.Struct):
    """A group as registered, with how many members the store knows in it."""

    id: str
    name: str | None
    tags: list[str]
    kind: str | None
    capacity: int | None
    owner: str | None
    members: int


class GroupPage(msgspec.Struct):
    items: list[GroupView]
    limit: int
    offset: int
    next_offset: int | None


class ContentPage(msgspec.Struct):
    items: list[ContentItem]
    limit: int
    offset: int
    next_offset: int | None


class StaffPage(msgspec.Struct):
    items: list[StaffRecord]
    limit: int
    offset: int
    next_offset: int | None


class MemberPage(msgspec.Struct):
    items: list[MemberView]
    limit: int
    offset: int
    next_offset: int | None
