"""What a backtest's deliveries would use (DESIGN §17): deliveries per local day and per kind, and the
member-addressed messages counted against the WeCom mass-send quota (§20) and the community's touch
budget (§18). Deliveries come one member at a time, in time order (`Store.delivery_rows`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Literal

import msgspec

from .clock import from_us, to_us
from .community_settings import TouchBudget
from .localtime import local_moment

_decode = msgspec.json.decode


class MassSendLimit(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How many mass sends one member may receive per calendar period (the WeCom connector's
    `mass_send_limit`, DESIGN §20)."""

    count: int
    per: Literal["day", "week", "month"] = "day"


class DayCount(msgspec.Struct, frozen=True):
    """One local day of the backtest: its `message` deliveries, and its deliveries by kind."""

    date: str
    messages: int
    kinds: dict[str, int]


class QuotaUse(msgspec.Struct, frozen=True):
    """What the member-addressed messages would use of the mass-send quota: `sends` in all, `over`
    of them beyond a member's quota in their period (WeCom would skip them), to `members_over`
    members."""

    count: int
    per: str
    sends: int
    over: int
    members_over: int


class BudgetUse(msgspec.Struct, frozen=True):
    """What the member-addressed messages would use of the touch budget: `counted` within it, `over`
    beyond it (they would wait or be skipped, as the flow's `over_budget` says), to `members_over`
    members. Counted for this flow alone: other flows' messages are not part of a backtest."""

    messages: int
    per: str
    counted: int
    over: int
    members_over: int


class Usage(msgspec.Struct, frozen=True):
    """Deliveries in all, `message` deliveries, deliveries per local day and per kind, and the quota
    and budget use (None when there was none to count against)."""

    deliveries: int
    messages: int
    per_day: list[DayCount]
    kinds: dict[str, int]
    quota: QuotaUse | None
    budget: BudgetUse | None


def usage(
    rows: Iterable[tuple[str | None, int, str, str]],
    since: datetime,
    now: datetime,
    tz: Any,
    quota: MassSendLimit | None = None,
    budget: TouchBudget | None = None,
) -> Usage:
    """Count deliveries given as (member, time, kind, payload JSON), one member's together in time
    order, made between `since` and `now` (days are local dates in `tz`)."""
    days_seen = _LocalDays(since, now, tz)
    per_day: dict[int, Counter[str]] = {}
    kinds: Counter[str] = Counter()
    quota_count = _QuotaCount(quota, tz) if quota is not None else None
    budget_count = _BudgetCount(budget) if budget is not None else None
    counters = [c for c in (quota_count, budget_count) if c is not None]
    total = 0
    member_before: str | None = None
    for member, at, kind, payload in rows:
        total += 1
        kinds[kind] += 1
        per_day.setdefault(days_seen.index(at), Counter())[kind] += 1
        if kind != "message" or member is None or _decode(payload).get("to", "member") != "member":
            continue
        if member != member_before:
            member_before = member
            for counter in counters:
                counter.next_member()
        for counter in counters:
            counter.add(at)
    return Usage(
        deliveries=total,
        messages=kinds.get("message", 0),
        per_day=[
            DayCount(days_seen.label(i), day.get("message", 0), dict(sorted(day.items())))
            for i, day in ((i, per_day.get(i, Counter())) for i in range(days_seen.count))
        ],
        kinds=dict(sorted(kinds.items())),
        quota=quota_count.result() if quota_count is not None else None,
        budget=budget_count.result() if budget_count is not None else None,
    )


class _LocalDays:
    """The local dates of [since, now] in a timezone, and which of them a moment falls on."""

    def __init__(self, since: datetime, now: datetime, tz: Any) -> None:
        first, last = since.astimezone(tz).date(), now.astimezone(tz).date()
        self.dates = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        # Where each day after the first begins, in microseconds (a delivery made at its waking
        # moment just after `now` still counts on the last day).
        self.starts = [to_us(local_moment(d, _MIDNIGHT, tz)) for d in self.dates[1:]]
        self.count = len(self.dates)

    def index(self, at: int) -> int:
        return min(bisect_right(self.starts, at), self.count - 1)

    def label(self, index: int) -> str:
        return self.dates[index].isoformat()


_MIDNIGHT = datetime.min.time()


class _QuotaCount:
    """Member-addressed messages against a per-period quota, one member at a time."""

    def __init__(self, limit: MassSendLimit, tz: Any) -> None:
        self.limit, self.tz = limit, tz
        self.sends = self.over = self.members_over = 0
        self._period: tuple[int, ...] | None = None
        self._in_period = 0
        self._member_over = False

    def next_member(self) -> None:
        self._period, self._in_period, self._member_over = None, 0, False

    def add(self, at: int) -> None:
        self.sends += 1
        local = from_us(at).astimezone(self.tz).date()
        per = self.limit.per
        period = (
            (local.toordinal(),)
            if per == "day"
            else local.isocalendar()[:2]
            if per == "week"
            else (local.year, local.month)
        )
        if period != self._period:
            self._period, self._in_period = period, 0
        self._in_period += 1
        if self._in_period > self.limit.count:
            self.over += 1
            if not self._member_over:
                self._member_over = True
                self.members_over += 1

    def result(self) -> QuotaUse:
        return QuotaUse(self.limit.count, self.limit.per, self.sends, self.over, self.members_over)


class _BudgetCount:
    """Member-addressed messages against a sliding-window budget, one member at a time: a message
    made at `d` counts while a later one is before `d + per`; one over the budget is not counted."""

    def __init__(self, budget: TouchBudget) -> None:
        self.budget = budget
        self._per = budget.per // timedelta(microseconds=1)
        self.counted = self.over = self.members_over = 0
        self._window: deque[int] = deque()
        self._member_over = False

    def next_member(self) -> None:
        self._window.clear()
        self._member_over = False

    def add(self, at: int) -> None:
        window = self._window
        while window and window[0] + self._per <= at:
            window.popleft()
        if len(window) < self.budget.messages:
            window.append(at)
            self.counted += 1
            return
        self.over += 1
        if not self._member_over:
            self._member_over = True
            self.members_over += 1

    def result(self) -> BudgetUse:
        per = msgspec.json.encode(self.budget.per).decode().strip('"')
        return BudgetUse(self.budget.messages, per, self.counted, self.over, self.members_over)


__all__ = ["BudgetUse", "DayCount", "MassSendLimit", "QuotaUse", "TouchBudget", "Usage", "usage"]
