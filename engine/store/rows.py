"""How members, runs, events and deliveries map to table rows (and back)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from ..member import Member
from ..run import Run

_encode = msgspec.json.encode
_decode = msgspec.json.decode


def to_json(value: Any) -> str | None:
    return _encode(value).decode() if value else None


def from_json(text: str | None, default: Any) -> Any:
    return _decode(text) if text else default


EVENT_COLUMNS = ("seq", "id", "type", "member_id", "group_id", "channel", "at", "data")
DELIVERY_COLUMNS = (
    "id",
    "key",
    "flow_id",
    "node",
    "run_id",
    "member_id",
    "kind",
    "payload",
    "at",
    "status",
    "attempts",
    "next_attempt_at",
)
MEMBER_COLUMNS = (
    "name",
    "channel",
    "tags",
    "groups",
    "attributes",
    "points",
    "total_spend",
    "order_count",
    "grade",
    "stage",
    "blacklisted",
    "last_message_at",
)
# The columns a member is read from, in the order `member_from_row` takes them.
MEMBER_FIELDS = ("id", "first_seen", *MEMBER_COLUMNS)
RUN_COLUMNS = (
    "node",
    "status",
    "entered_at",
    "wake_at",
    "wait_event",
    "due_seq",
    "event_seq",
    "vars",
    "ended_at",
    "error",
    "lease_owner",
    "lease_until",
)
# The columns a run is read from, in the order `run_from_values` takes them.
RUN_FIELDS = ("id", "journey", "flow_id", "version", "member_id", "started_at", *RUN_COLUMNS)


def member_values(m: Member) -> tuple[Any, ...]:
    return (
        m.name,
        m.channel,
        to_json(m.tags),
        to_json(m.groups),
        to_json(m.attributes),
        m.points,
        m.total_spend,
        m.order_count,
        m.grade,
        m.stage,
        m.blacklisted,
        m.last_message_at,
    )


def member_from_row(row: Sequence[Any]) -> Member:
    """A member from the columns of `MEMBER_FIELDS` (built by position: a batch builds hundreds)."""
    mid, first, name, channel, tags, groups, attrs, points, spend, orders, grade, stage, black, last = row
    member = Member(
        mid,
        name,
        channel,
        _decode(tags) if tags else None,
        _decode(groups) if groups else None,
        _decode(attrs) if attrs else None,
        points,
        spend,
        orders,
        grade,
        stage,
        bool(black),
        first,
        last,
    )
    member.stored = tuple(row[2:])
    return member


def member_row(m: Member) -> dict[str, Any]:
    """`member_values` by column name."""
    return dict(zip(MEMBER_COLUMNS, member_values(m), strict=True))


def run_values(r: Run) -> tuple[Any, ...]:
    """A run's values in the order of `RUN_COLUMNS`, as a step leaves it (a step ends any lease)."""
    return (
        r.node,
        r.status,
        r.entered_at,
        r.wake_at,
        r.wait_event,
        r.due_seq,
        r.event_seq,
        to_json(r.vars),
        r.ended_at,
        r.error,
        None,
        None,
    )


def run_from_values(row: Sequence[Any]) -> Run:
    """A run from the columns of `RUN_FIELDS`, in that order."""
    id, journey, flow_id, version, member_id, started_at, *stored = row
    node, status, entered_at, wake_at, wait_event, due_seq, event_seq, vars, ended_at, error, _, _ = stored
    run = Run(
        id,
        journey,
        flow_id,
        version,
        member_id,
        node,
        status,
        entered_at,
        started_at,
        wake_at,
        wait_event,
        due_seq,
        event_seq,
        _decode(vars) if vars else None,
        ended_at,
        error,
    )
    run.stored = tuple(stored)
    return run


def run_from_row(r: Any) -> Run:
    return run_from_values([getattr(r, name) for name in RUN_FIELDS])


def event_from_row(r: Any) -> dict[str, Any]:
    return {
        "seq": r.seq,
        "id": r.id,
        "type": r.type,
        "member": r.member_id,
        "group": r.group_id,
        "channel": r.channel,
        "at": r.at,
        "data": from_json(r.data, {}),
    }
