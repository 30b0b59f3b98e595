"""Events (DESIGN §6, a contract): what happened, fed over HTTP, the CLI or `simulate`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from .errors import EventInvalid, validation_message
from .limits import MAX_MONEY, moment_problem

AwareDatetime = Annotated[datetime, Meta(tz=True)]
Text = Annotated[str, Meta(min_length=1, max_length=200)]

# Built-in event types that are about one member, and the data fields they rely on.
MEMBER_EVENTS = frozenset(
    {
        "contact_added",
        "contact_deleted",
        "member_joined",
        "member_left",
        "message",
        "purchase",
        "coupon_redeemed",
        "link_clicked",
        "member_updated",
        "task_completed",
    }
)
GROUP_EVENTS = frozenset({"member_joined", "member_left"})
# Made by the engine when a delivery that a run waits for settles (engine.settlements); never taken from
# outside, so that nobody can answer for a connector.
DELIVERY_SETTLED = "delivery_settled"


class Profile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str | None = None
    channel: str | None = None
    attributes: dict[str, Any] | None = None
    tags: list[str] | None = None


class Event(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: Text
    type: Text
    at: AwareDatetime
    member: Text | None = None
    group: Text | None = None
    channel: Text | None = None
    data: dict[str, Any] = {}
    profile: Profile | None = None


def _check(event: Event, index: int | None) -> Event:
    def bad(field: str, message: str) -> EventInvalid:
        return EventInvalid(f"{field}: {message}", index=index, field=field)

    late = moment_problem(event.at)
    if late:
        raise bad("at", late)
    if event.type in MEMBER_EVENTS and event.member is None:
        raise bad("member", f"a `{event.type}` event needs a member")
    if event.type in GROUP_EVENTS and event.group is None:
        raise bad("group", f"a `{event.type}` event needs a group")
    if event.type == "purchase":
        amount = event.data.get("amount", 0)
        if isinstance(amount, bool) or not isinstance(amount, int | float) or not 0 <= amount <= MAX_MONEY:
            raise bad("data.amount", f"must be a number from 0 to {MAX_MONEY:,}")
    if event.type == "task_completed" and event.data.get("outcome") not in ("done", "skipped"):
        raise bad("data.outcome", "must be `done` or `skipped`")
    if event.member is None and event.profile is not None:
        raise bad("profile", "a profile needs a member")
    if event.type == "member_edited":  # engine.edits: made by the web app for a person's change
        raise bad("type", "`member_edited` events are made by qunflow itself (use the members API)")
    if event.type == DELIVERY_SETTLED:
        raise bad("type", "`delivery_settled` events are made by qunflow itself when a delivery settles")
    return event


def convert_events(raw: Any) -> list[Event]:
    """Turn decoded JSON (one event object or a list of them) into checked events."""
    items = raw if isinstance(raw, list) else [raw]
    events = []
    for index, item in enumerate(items):
        where = index if isinstance(raw, list) else None
        try:
            event = msgspec.convert(item, Event)
        except msgspec.ValidationError as error:
            path, message = validation_message(error)
            raise EventInvalid(f"{path or 'event'}: {message}", index=where, field=path or None) from None
        events.append(_check(event, where))
    return events


def decode_events(body: bytes) -> list[Event]:
    """Decode a JSON body holding one event or an array of events."""
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError as error:
        raise EventInvalid(f"malformed JSON: {error}") from None
    except RecursionError:
        raise EventInvalid("malformed JSON: it nests too deeply") from None
    return convert_events(raw)


def decode_event_lines(text: str, source: str = "events") -> list[Event]:
    """Decode JSON Lines; errors name the line."""
    events = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.extend(decode_events(line.encode()))
        except EventInvalid as error:
            raise EventInvalid(f"{source} line {number}: {error}") from None
    return events
