"""Backtest (DESIGN §17): a flow over the last N days of stored events, touching nothing real.

The flow runs in a scratch store (a temporary SQLite database) that starts with the community as it
is now — members, groups, the content library, staff and tags copied from the real store — under a
simulated clock that starts N days ago. The stored events of those N days are read from the real
store in time order, a page at a time, and fed by `simulate`'s own driver (`engine.simulate.drive`):
the same engine and the same batches as a preview. The real store is only read.

The answer is a preview's (runs, nodes, the first deliveries) plus what an operator needs before
publishing: members entered, deliveries per day and per kind, and the WeCom mass-send quota and the
community's touch budget those messages would use.
"""

from __future__ import annotations

import tempfile
from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, overload

import msgspec

from .clock import SimClock, from_us, to_us
from .compiler import compile_flow
from .engine import Engine, settled
from .errors import UserError
from .event import Event
from .localtime import local_moment
from .registry import Registry, default_registry
from .simulate import STATUSES_REPORTED, drive
from .store import Store
from .store.history import EventRow

MIN_DAYS, MAX_DAYS = 1, 90
# How many of the deliveries the answer lists, first by time (a preview lists all of them; a
# backtest of a large community would list hundreds of thousands).
SAMPLE = 100
PAGE = 5000
_decode = msgspec.json.decode


class MassSendLimit(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How many mass sends one member may receive per calendar period (the WeCom connector's
    `mass_send_limit`, DESIGN §20)."""

    count: int
    per: Literal["day", "week", "month"] = "day"


class TouchBudget(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The community's cross-flow touch budget (DESIGN §18): at most `messages` member-addressed
    messages to one member within any sliding window `per`."""

    messages: Annotated[int, msgspec.Meta(ge=1)]
    per: timedelta

    def __post_init__(self) -> None:
        if self.per <= timedelta(0):
            raise ValueError("per must be a positive duration, like P1D")


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


class BacktestResult(msgspec.Struct, frozen=True):
    """A backtest's answer. `runs`, `nodes` and `deliveries` are as in `simulate`'s report (DESIGN
    §7), `deliveries` cut to the first `SAMPLE` by time (`deliveries_total` counts them all)."""

    flow: str
    days: int
    since: str
    until: str
    events: int
    members: int
    entered: int
    runs: dict[str, dict[str, int]]
    nodes: dict[str, dict[str, int]]
    deliveries: list[dict[str, Any]]
    deliveries_total: int
    messages: int
    per_day: list[DayCount]
    kinds: dict[str, int]
    quota: QuotaUse | None = None
    budget: BudgetUse | None = None


def backtest(
    store: Store,
    flow_doc: dict[str, Any],
    days: int,
    now: datetime,
    *,
    registry: Registry | None = None,
    elsewhere: Collection[str] = (),
    quota: MassSendLimit | None = None,
    budget: TouchBudget | None = None,
    scratch: Path | None = None,
) -> BacktestResult:
    """Run `flow_doc` over the stored events of the `days` days before `now`, starting from the
    store's members as they are now, in a scratch store; the real `store` is only read.

    Raises UserError naming `days` when it is not 1–90, and FlowInvalid with every problem when
    the flow is not valid (nodes may name the flows `elsewhere` and the store's content items).
    `scratch`: a folder for the scratch database (default: a temporary one, removed afterwards)."""
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_DAYS <= days <= MAX_DAYS:
        raise UserError(f"days: must be a whole number from {MIN_DAYS} to {MAX_DAYS}")
    registry = registry or default_registry()
    plan = compile_flow(
        flow_doc, registry, flows={*elsewhere, str(flow_doc.get("id"))}, content=store.content_index()
    )
    since = now - timedelta(days=days)
    if scratch is not None:
        return _run(store, flow_doc, plan, since, now, days, registry, elsewhere, quota, budget, scratch)
    with tempfile.TemporaryDirectory(prefix="qunflow-backtest-") as folder:
        return _run(store, flow_doc, plan, since, now, days, registry, elsewhere, quota, budget, Path(folder))


def _run(
    store: Store,
    flow_doc: dict[str, Any],
    plan: Any,
    since: datetime,
    now: datetime,
    days: int,
    registry: Registry,
    elsewhere: Collection[str],
    quota: MassSendLimit | None,
    budget: TouchBudget | None,
    folder: Path,
) -> BacktestResult:
    # A file, not memory: a month of a large community's events and runs stays on disk.
    target = Store.open(f"sqlite:///{folder / 'backtest.db'}")
    try:
        members = store.copy_community(target)
        # The community's calendar (DESIGN §18) decides working days here as it does live; its touch
        # budget is counted apart (`budget`), not enforced.
        calendar = store.community_settings().get("calendar")
        if calendar is not None:
            target.put_settings({"calendar": msgspec.json.encode(calendar).decode()}, to_us(now))
        clock = SimClock(since)
        engine = Engine(target, registry, clock)
        engine.save_draft(flow_doc)
        engine.publish(plan.flow.id, elsewhere)
        events = StoredEvents(store, to_us(since), to_us(now))
        with settled():
            drive(engine, clock, events, now)
        return _summary(target, plan, days, since, now, len(events), members, quota, budget)
    finally:
        target.close()


class StoredEvents(Sequence[Event]):
    """The stored events of [since, until] in time order, as `simulate.drive` walks them: read a page
    at a time from the store, and let go once the walk has passed them (`drive` only moves forward,
    and each batch it replays starts with a slice from where it stands)."""

    def __init__(self, store: Store, since: int, until: int, page: int = PAGE) -> None:
        self._store, self._since, self._until, self._page = store, since, until, page
        self._length = store.event_count(since, until)
        self._base = 0  # the index of the first event held
        self._held: list[Event] = []
        self._after: tuple[int, int] | None = None

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        if isinstance(index, slice):
            start, stop, _ = index.indices(self._length)
            self._let_go(start)
            if stop <= start:
                return []
            self._read_to(stop - 1)
            return self._held[start - self._base : stop - self._base]
        if index < 0:
            index += self._length
        if not self._base <= index < self._length:
            raise IndexError(index)
        self._read_to(index)
        return self._held[index - self._base]

    def __iter__(self) -> Iterator[Event]:
        for index in range(self._length):
            yield self[index]

    def _read_to(self, index: int) -> None:
        while index >= self._base + len(self._held):
            rows = self._store.event_page(self._since, self._until, self._after, self._page)
            if not rows:
                raise IndexError(index)
            self._after = (rows[-1][6], rows[-1][0])
            self._held.extend(map(_event, rows))

    def _let_go(self, before: int) -> None:
        if before > self._base:
            del self._held[: before - self._base]
            self._base = before


def _event(row: EventRow) -> Event:
    _, event_id, kind, member, group, channel, at, data = row
    return Event(event_id, kind, from_us(at), member, group, channel, _decode(data) if data else {})


def _summary(
    target: Store,
    plan: Any,
    days: int,
    since: datetime,
    now: datetime,
    events: int,
    members: int,
    quota: MassSendLimit | None,
    budget: TouchBudget | None,
) -> BacktestResult:
    flow_id, tz = plan.flow.id, plan.tz
    days_seen = _LocalDays(since, now, tz)
    per_day: dict[int, Counter[str]] = {}
    kinds: Counter[str] = Counter()
    quota_count = _QuotaCount(quota, tz) if quota is not None else None
    budget_count = _BudgetCount(budget) if budget is not None else None
    total = 0
    member_before: str | None = None
    for member, at, kind, payload in target.delivery_rows():
        total += 1
        kinds[kind] += 1
        day = days_seen.index(at)
        per_day.setdefault(day, Counter())[kind] += 1
        if kind != "message" or member is None or _decode(payload).get("to", "member") != "member":
            continue
        if member != member_before:
            member_before = member
            for counter in (quota_count, budget_count):
                if counter is not None:
                    counter.next_member()
        for counter in (quota_count, budget_count):
            if counter is not None:
                counter.add(at)
    statuses = target.journey_statuses(flow_id).get(flow_id, {})
    counts = target.node_counts(flow_id).get(flow_id, {})
    sample = [
        {
            "at": from_us(d["at"]).astimezone(tz).isoformat(),
            "flow": d["flow"],
            "node": d["node"],
            "member": d["member"],
            "kind": d["kind"],
            "payload": d["payload"],
        }
        for d in target.deliveries(limit=SAMPLE)
    ]
    return BacktestResult(
        flow=flow_id,
        days=days,
        since=since.astimezone(tz).isoformat(),
        until=now.astimezone(tz).isoformat(),
        events=events,
        members=members,
        entered=target.entered_members(flow_id),
        runs={flow_id: {s: statuses.get(s, 0) for s in STATUSES_REPORTED}},
        nodes={flow_id: {n.id: counts[n.id].get("entered", 0) for n in plan.flow.nodes if n.id in counts}},
        deliveries=sample,
        deliveries_total=total,
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


__all__ = [
    "BacktestResult",
    "BudgetUse",
    "DayCount",
    "MassSendLimit",
    "QuotaUse",
    "StoredEvents",
    "TouchBudget",
    "backtest",
]
