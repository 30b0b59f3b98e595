"""Backtest (DESIGN §17): a flow over the last N days of stored events, touching nothing real.

The flow runs in a scratch store (a temporary SQLite database) that starts with the community as it
is now — members, groups, the content library, staff and tags copied from the real store — under a
simulated clock that starts N days ago. The stored events of those N days are read from the real
store in time order, a page at a time, and fed by `simulate`'s own driver (`engine.simulate.drive`):
the same engine and the same batches as a preview. The real store is only read.

The answer is a preview's (runs, nodes, the first deliveries) plus what an operator needs before
publishing: members entered, deliveries per day and per kind, and the WeCom mass-send quota and the
community's touch budget those messages would use (`engine.usage`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, overload

import msgspec

from .clock import SimClock, from_us, to_us
from .compiler import Plan, compile_flow
from .engine import Engine, settled
from .errors import UserError
from .event import Event
from .registry import Registry, default_registry
from .simulate import STATUSES_REPORTED, drive
from .store import Store
from .store.history import EventRow
from .usage import BudgetUse, DayCount, MassSendLimit, QuotaUse, TouchBudget, Usage, usage

MIN_DAYS, MAX_DAYS = 1, 90
# How many of the deliveries the answer lists, first by time (a preview lists all of them; a
# backtest of a large community would list hundreds of thousands).
SAMPLE = 100
PAGE = 5000
# Events (and due runs) per transaction of the scratch store: larger than the engine's default, since
# no other process waits on it.
BATCH = 2000
_decode = msgspec.json.decode


class BacktestResult(msgspec.Struct, frozen=True):
    """A backtest's answer. `runs`, `nodes` and `deliveries` are as in `simulate`'s report (DESIGN
    §7), `deliveries` cut to the first `SAMPLE` by time (`deliveries_total` counts them all);
    `entered` is how many members the flow took in; `events` how many stored events it replayed;
    `members` how many members it started from."""

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
) -> BacktestResult:
    """Run `flow_doc` over the stored events of the `days` days before `now`, starting from the
    store's members as they are now, in a scratch store; the real `store` is only read.

    Raises UserError naming `days` when it is not 1–90, and FlowInvalid with every problem when
    the flow is not valid (nodes may name the flows `elsewhere` and the store's content items).
    `quota` and `budget`: what the member-addressed messages are counted against, if given."""
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_DAYS <= days <= MAX_DAYS:
        raise UserError(f"days: must be a whole number from {MIN_DAYS} to {MAX_DAYS}")
    registry = registry or default_registry()
    plan = compile_flow(
        flow_doc, registry, flows={*elsewhere, str(flow_doc.get("id"))}, content=store.content_index()
    )
    since = now - timedelta(days=days)
    # A file, not memory: a month of a large community's events and runs stays on disk; a temporary
    # folder, removed afterwards.
    with tempfile.TemporaryDirectory(prefix="qunflow-backtest-") as folder:
        target = Store.open(f"sqlite:///{Path(folder) / 'backtest.db'}?scratch=1")
        try:
            members = store.copy_community(target)
            # The community's calendar (DESIGN §18) decides working days here as it does live; its
            # touch budget is counted apart (`budget`), not enforced.
            calendar = store.community_settings().get("calendar")
            if calendar is not None:
                target.put_settings({"calendar": msgspec.json.encode(calendar).decode()}, to_us(now))
            clock = SimClock(since)
            engine = Engine(target, registry, clock, batch_size=BATCH)
            engine.save_draft(flow_doc)
            engine.publish(plan.flow.id, elsewhere)
            events = StoredEvents(store, to_us(since), to_us(now))
            with settled():
                drive(engine, clock, events, now)
            used = usage(target.delivery_rows(), since, now, plan.tz, quota, budget)
            return _result(target, plan, days, (since, now), (len(events), members), used)
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


def _result(
    target: Store,
    plan: Plan,
    days: int,
    span: tuple[datetime, datetime],
    replayed: tuple[int, int],
    used: Usage,
) -> BacktestResult:
    """The answer, from the scratch store after the run: `span` is (since, now), `replayed` (events,
    members)."""
    flow_id, tz = plan.flow.id, plan.tz
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
        since=span[0].astimezone(tz).isoformat(),
        until=span[1].astimezone(tz).isoformat(),
        events=replayed[0],
        members=replayed[1],
        entered=target.entered_members(flow_id),
        runs={flow_id: {s: statuses.get(s, 0) for s in STATUSES_REPORTED}},
        nodes={flow_id: {n.id: counts[n.id].get("entered", 0) for n in plan.flow.nodes if n.id in counts}},
        deliveries=sample,
        deliveries_total=used.deliveries,
        messages=used.messages,
        per_day=used.per_day,
        kinds=used.kinds,
        quota=used.quota,
        budget=used.budget,
    )


__all__ = [
    "MAX_DAYS",
    "MIN_DAYS",
    "BacktestResult",
    "BudgetUse",
    "DayCount",
    "MassSendLimit",
    "QuotaUse",
    "StoredEvents",
    "TouchBudget",
    "backtest",
]
