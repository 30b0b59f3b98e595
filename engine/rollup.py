"""Daily rollups (DESIGN §17): the counters the reports read, kept up to date as the engine writes.

A report never scans events or members: it sums a few rows of the `daily_stats` table, which every
writer moves in the same transaction as the change it counts. A row is a *cell*
`(topic, key, day, metric) -> value`, where `day` is a local date (`YYYYMMDD`, in the community's
timezone) and means one of two things:

- **the day something happened** — a group's joins, leaves and messages (`group`); members moving
  between lifecycle stages (`stage`: the sum of a stage's cells up to a day is its count at that
  day's end);
- **a day that belongs to what is counted** — members by the day they came (`channel`: added, still a
  contact, purchasers, revenue), by the day they last posted (`channel_active`, `group_active`),
  deliveries by the day they were made (`delivery`: made, and how many of them have each status).

The second kind are standing counts: when a member or a delivery changes, its old contribution is
taken away and its new one added (:meth:`Tally.member_moved`, :meth:`Tally.delivery_moved`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from .member import Member

# The community's timezone: the flows' default (DESIGN §4), where operators work and read days.
COMMUNITY_TIMEZONE = "Asia/Shanghai"
ZONE = ZoneInfo(COMMUNITY_TIMEZONE)

STAGE, CHANNEL, CHANNEL_ACTIVE = "stage", "channel", "channel_active"
GROUP, GROUP_ACTIVE, DELIVERY = "group", "group_active", "delivery"
# The lifecycle stages of the funnel, in order (DESIGN §1: prospect → customer → member → KOC).
STAGES = ("prospect", "customer", "member", "koc")
# A member who came through no channel is counted under this key.
NO_CHANNEL = ""

Cell = tuple[str, str, int, str]

# Every UTC offset in use is a multiple of 15 minutes: a local date is the same all through a slot.
_SLOT_US = 15 * 60 * 1_000_000
_slot_days: dict[int, int] = {}


def local_day(at_us: int) -> int:
    """The local date (`YYYYMMDD`) of a moment in microseconds, in the community's timezone."""
    slot = at_us // _SLOT_US
    found = _slot_days.get(slot)
    if found is None:
        try:
            moment = datetime.fromtimestamp(slot * (_SLOT_US // 1_000_000), UTC).astimezone(ZONE)
            found = moment.year * 10_000 + moment.month * 100 + moment.day
        except (OverflowError, ValueError):  # past the years a datetime holds: the first or last day
            found = 10101 if slot < 0 else 99991231
        _slot_days[slot] = found
    return found


def day_number(day: date) -> int:
    """A date as the cells key it: `YYYYMMDD`."""
    return day.year * 10_000 + day.month * 100 + day.day


def day_of(number: int) -> date:
    return date(number // 10_000, number // 100 % 100, number % 100)


def days_between(first: date, last: date) -> list[date]:
    """Every date from `first` to `last`, both included."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class MemberFacts(NamedTuple):
    """What the rollups count of a member: enough to tell whether a write moves a cell."""

    channel: str
    cohort: int  # the local day the member came
    contact: bool  # still a contact (no `contact_deleted` since they last added a staff account)
    stage: str | None
    spend: float
    purchased: bool
    active: int | None  # the local day of their last message
    groups: tuple[str, ...]  # only for a member who has posted: the activity of groups counts them


def member_facts(
    channel: str | None,
    first_seen: int,
    contact_lost_at: int | None,
    stage: str | None,
    spend: float,
    orders: int,
    last_message_at: int | None,
    groups: Iterable[str],
) -> MemberFacts:
    active = local_day(last_message_at) if last_message_at is not None else None
    return MemberFacts(
        channel or NO_CHANNEL,
        local_day(first_seen),
        contact_lost_at is None,
        stage if stage in STAGES else None,
        spend or 0.0,
        bool(orders) or bool(spend),
        active,
        tuple(groups) if active is not None else (),
    )


def facts_now(member: Member) -> MemberFacts:
    """The member as it is about to be written."""
    return member_facts(
        member.channel,
        member.first_seen,
        member.contact_lost_at,
        member.stage,
        member.total_spend,
        member.order_count,
        member.last_message_at,
        member.groups,
    )


def contributions(facts: MemberFacts, today: int) -> Iterator[tuple[Cell, float]]:
    """The cells one member counts in (stage moves land on `today`, the day of the write)."""
    channel, cohort = facts.channel, facts.cohort
    yield (CHANNEL, channel, cohort, "added"), 1
    if facts.contact:
        yield (CHANNEL, channel, cohort, "contacts"), 1
    if facts.purchased:
        yield (CHANNEL, channel, cohort, "purchasers"), 1
    if facts.spend:
        yield (CHANNEL, channel, cohort, "revenue"), facts.spend
    if facts.active is not None:
        # The cohort rides in the metric: the activity of a channel's members is read by both days.
        yield (CHANNEL_ACTIVE, channel, facts.active, str(cohort)), 1
        for group in facts.groups:
            yield (GROUP_ACTIVE, group, facts.active, "members"), 1
    if facts.stage is not None:
        yield (STAGE, facts.stage, today, "members"), 1


def delivery_metric(status: str, reason: str | None) -> str:
    """The metric a delivery's status counts under: a skipped one by its reason (`skipped:quota`)."""
    return f"{status}:{reason}" if status == "skipped" and reason else status


class Tally:
    """The cell moves of one transaction, written with it (`store.add_stats`)."""

    __slots__ = ("cells",)

    def __init__(self) -> None:
        self.cells: dict[Cell, float] = {}

    def add(self, topic: str, key: str, day: int, metric: str, value: float = 1) -> None:
        cell = (topic, key, day, metric)
        self.cells[cell] = self.cells.get(cell, 0) + value

    def member_moved(self, before: MemberFacts | None, after: MemberFacts | None, today: int) -> None:
        """A member written: its old contribution out (`before`; None for a new member), its new one in."""
        if before == after:
            return
        cells = self.cells
        if before is not None:
            for cell, value in contributions(before, today):
                cells[cell] = cells.get(cell, 0) - value
        if after is not None:
            for cell, value in contributions(after, today):
                cells[cell] = cells.get(cell, 0) + value

    def delivery_moved(self, kind: str, made_at: int, before: str | None, after: str | None) -> None:
        """A delivery made (`before` None) or changing status (metrics of `delivery_metric`)."""
        day = local_day(made_at)
        if before is None:
            self.add(DELIVERY, kind, day, "made")
        else:
            self.add(DELIVERY, kind, day, before, -1)
        if after is not None:
            self.add(DELIVERY, kind, day, after)

    def changes(self) -> list[tuple[str, str, int, str, float]]:
        """The moves that are not zero, in key order (so that two writers lock rows in one order)."""
        return [(*cell, value) for cell, value in sorted(self.cells.items()) if value]

    def merge(self, other: Mapping[Cell, float]) -> None:
        for cell, value in other.items():
            self.cells[cell] = self.cells.get(cell, 0) + value


__all__ = [
    "CHANNEL",
    "CHANNEL_ACTIVE",
    "COMMUNITY_TIMEZONE",
    "DELIVERY",
    "GROUP",
    "GROUP_ACTIVE",
    "NO_CHANNEL",
    "STAGE",
    "STAGES",
    "ZONE",
    "MemberFacts",
    "Tally",
    "contributions",
    "day_number",
    "day_of",
    "days_between",
    "delivery_metric",
    "facts_now",
    "local_day",
    "member_facts",
]
