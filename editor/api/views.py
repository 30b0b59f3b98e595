"""The API's answers, as msgspec structs (they are also the OpenAPI schema). Times are ISO 8601, UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

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
    # The version waiting for an admin's approval (DESIGN §18), if one waits.
    pending_approval: int | None = None


class VersionView(msgspec.Struct):
    """A published version and its approval record (DESIGN §18): `status` is `published` (live at
    once), `pending_approval`, `approved` or `rejected`; `requested_by` asked (published), at
    `published_at`; `decided_by` decided at `decided_at`, with `reason` for a rejection; `reach` is
    the estimated reach when approval applied."""

    version: int
    published_at: datetime | None
    document: dict[str, Any]
    status: str = "published"
    requested_by: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    reach: int | None = None


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


class Published(msgspec.Struct, omit_defaults=True):
    """What publishing did: `{flow, version}`, live now; or `status: pending_approval` (202: an
    admin must approve; `reach` and `min_reach` say why). `reach` is given whenever it was estimated."""

    flow: str
    version: int
    status: str = "published"
    reach: int | None = None
    min_reach: int | None = None


class Decision(msgspec.Struct):
    """An admin's decision on a version waiting for approval."""

    flow: str
    version: int
    status: str
    decided_by: str
    reason: str | None = None


class Rollback(msgspec.Struct, forbid_unknown_fields=True):
    """Which published version to make live again."""

    version: Annotated[int, msgspec.Meta(ge=1)]


class PauseState(msgspec.Struct):
    flow: str
    paused: bool


class VersionFigures(msgspec.Struct):
    """A node's figures on one flow version."""

    entered: int
    waiting: int


class NodeStats(msgspec.Struct, omit_defaults=True):
    entered: int
    waiting: int
    # Runs that left the node, by output port.
    ports: dict[str, int]
    # Only for a flow with a goal (DESIGN §16): converted runs that entered the node, and that share
    # of the runs that entered it (absent while none did); per port, converted runs that left by it,
    # and that share of those that did (null while none did).
    converted: int | None = None
    conversion_rate: float | None = None
    ports_converted: dict[str, int] | None = None
    port_conversion_rates: dict[str, float | None] | None = None
    # Entered and waiting on each flow version that has either (absent when none has); version 0
    # holds what was counted before versions were kept apart.
    by_version: dict[int, VersionFigures] | None = None


class GroupFigures(msgspec.Struct):
    entered: int
    converted: int
    conversion_rate: float | None = None


class BranchResult(msgspec.Struct):
    """One branch of an A/B split against the split's first branch, said for operators."""

    node: str
    control: str
    variant: str
    difference: float | None  # percentage points, variant − control
    confidence: float | None
    outcome: str  # better, worse, unclear, too_small
    zh: str
    en: str


class GoalStats(msgspec.Struct):
    """A flow's goal (as its live version states it) and what came of it (DESIGN §16): runs
    outside the control group, the control group, the lift in percentage points, per split branch,
    and each split's branches compared."""

    goal: dict[str, Any]
    holdout_percent: int
    entered: int
    converted: int
    conversion_rate: float | None
    holdout: GroupFigures
    lift: float | None
    by_branch: dict[str, GroupFigures]
    ab: list[BranchResult]


class FlowStats(msgspec.Struct, omit_defaults=True):
    flow: str
    runs: dict[str, int]
    nodes: dict[str, NodeStats]
    goals: GoalStats | None = None
    # The version the node figures and goals are of, when one was asked for (`?version=`); absent,
    # they add up every version's.
    version: int | None = None
    # The versions that have figures, newest first (absent when none has).
    versions: list[int] | None = None


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
    # Why an exited run ended early: `goal` (its journey converted) or `holdout` (control group).
    reason: str | None = None

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
            reason=run.reason,
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
    # A test send (测试发送): a node's message sent by an operator to a chosen member or staff account
    # (`payload.to` is `staff` then); counted by no cap, budget, quota or report.
    test: bool = False

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
    # A delivery that was a test send (测试发送) from the flow editor.
    test: bool = False


class MemberDetail(msgspec.Struct):
    member: MemberView  # type: ignore[valid-type]
    timeline: list[TimelineEntry]


def page_next(count: int, limit: int, offset: int) -> int | None:
    return offset + limit if count == limit else None


class GroupView(msgspec.Struct, omit_defaults=True):
    """A group as registered, with how many members the store knows in it (and, only once WeCom said
    so, when it was dismissed)."""

    id: str
    name: str | None
    tags: list[str]
    kind: str | None
    capacity: int | None
    owner: str | None
    members: int
    dismissed_at: datetime | None = None  # when WeCom said the group was dismissed (DESIGN §20)


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
