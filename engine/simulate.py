"""`simulate` (DESIGN §7, a contract): flows and events in, a deterministic report out.

A fresh in-memory store, a simulated clock that starts at the first event and jumps from due moment
to due moment, and the recording connector (deliveries stay in the outbox, where the report reads them).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

import msgspec

from .batch import Batch
from .clock import SimClock, from_us, to_us
from .community_settings import CommunitySettings, to_rows
from .compiler import compile_flow
from .content import ContentItem
from .engine import Engine, settled
from .errors import UserError
from .event import Event
from .hooks import BatchDone
from .limits import moment_problem
from .member import GroupRecord, MemberRecord, StaffRecord
from .registry import Registry, default_registry
from .results import goal_figures
from .run import STATUSES, WAITING, Run
from .store import Store
from .store.retry import retrying


def parse_moment(text: str, option: str) -> datetime:
    """A timestamp with a UTC offset, or a one-line error naming the option."""
    try:
        moment = msgspec.convert(text, datetime)
    except msgspec.ValidationError:
        raise UserError(f"{option}: `{text}` is not a timestamp like 2026-12-01T00:00:00+08:00") from None
    if moment.tzinfo is None:
        raise UserError(f"{option}: `{text}` needs a UTC offset, like 2026-12-01T00:00:00+08:00")
    return checked_moment(moment, option)


def checked_moment(moment: datetime, option: str) -> datetime:
    """`moment` if the engine can compute with it (engine.limits); else one line naming the option."""
    problem = moment_problem(moment)
    if problem:
        raise UserError(f"{option}: {problem}")
    return moment


def parse_until(text: str, start: datetime | None) -> datetime:
    """`--until`: an ISO 8601 timestamp with an offset, or a duration after the start (`P30D`)."""
    if text.startswith("P"):
        try:
            span = msgspec.convert(text, timedelta)
        except msgspec.ValidationError:
            raise UserError(f"--until: `{text}` is not an ISO 8601 duration like P30D") from None
        if start is None:
            raise UserError("--until: a duration needs --start or at least one event to count from")
        try:
            return checked_moment(start + span, "--until")
        except OverflowError:
            raise UserError(f"--until: `{text}` after the start is past the year 9999") from None
    return parse_moment(text, "--until")


class WorkLimit(msgspec.Struct, frozen=True):
    """How much a simulation may do before it stops early (a preview answers within a request).

    Counted in work, not time, so that the same input always stops at the same place: `moments` the
    simulated clock stops at (each wake, cron fire or batch of events), `steps` runs stepped or
    started and events taken."""

    moments: int
    steps: int


class Truncated(msgspec.Struct, frozen=True):
    """Where a simulation stopped early: which limit (`moments` or `steps`), how large it was, and
    the simulated moment reached; nothing after it is in the report."""

    reason: str
    limit: int
    at: str


def simulate(
    flows: Sequence[dict[str, Any]],
    events: Sequence[Event],
    until: str | datetime,
    members: Sequence[MemberRecord] = (),
    groups: Sequence[GroupRecord] = (),
    registry: Registry | None = None,
    store_url: str = "sqlite://",
    start: datetime | None = None,
    elsewhere: Collection[str] = (),
    limit: WorkLimit | None = None,
    content: Sequence[ContentItem] = (),
    staff: Sequence[StaffRecord] = (),
    settings: CommunitySettings | None = None,
) -> dict[str, Any]:
    """Run flows on events under a simulated clock and report deliveries, members, runs and nodes.

    The clock starts at `start`, or else at the first event (a flow run only by its cron schedule
    needs `start`). Nodes may name the flows simulated and those `elsewhere`, which do not run here
    (a preview's neighbours): starting one of those is starting a flow that is not live. Nodes may
    name the `content` items (the library of the simulated store). With a `limit`, the simulation
    stops early when it is reached and the report says so under `truncated` (absent otherwise).
    `settings` are the community's (DESIGN §18: touch budget, calendar)."""
    registry = registry or default_registry()
    plans = [compile_flow(doc, registry) for doc in flows]
    ids = [p.flow.id for p in plans]
    if len(set(ids)) != len(ids):
        raise UserError("two flows share the id " + next(i for i in ids if ids.count(i) > 1))
    ordered = sorted(events, key=lambda e: e.at)
    if start is not None:
        checked_moment(start, "--start")
    if start is None:
        start = ordered[0].at if ordered else None
    elif ordered and ordered[0].at < start:
        raise UserError(f"--start: the first event ({ordered[0].id}) comes before {start.isoformat()}")
    end = checked_moment(until, "--until") if isinstance(until, datetime) else parse_until(until, start)
    clock = SimClock(start or end)
    store = Store.open(store_url)
    try:
        engine = Engine(store, registry, clock)
        store.put_members([m.to_member(to_us(clock.now())) for m in members])
        with store.transaction() as conn:
            store.upsert_groups(conn, [msgspec.to_builtins(g) for g in groups])
        store.put_content(content, to_us(clock.now()))
        store.put_staff(staff)
        if settings is not None:
            store.put_settings(to_rows(settings), to_us(clock.now()))
        for doc in flows:  # every draft first: the flows may start one another
            engine.save_draft(doc)
        for flow_id in ids:
            engine.publish(flow_id, elsewhere)
        with settled():
            truncated = drive(engine, clock, ordered, end, limit)
            result = report(store, plans)
        if truncated is not None:
            zone = plans[0].tz if plans else None
            result["truncated"] = msgspec.to_builtins(
                Truncated(truncated[0], truncated[1], clock.now().astimezone(zone).isoformat())
            )
        return result
    finally:
        store.close()


def drive(
    engine: Engine, clock: SimClock, events: Sequence[Event], until: datetime, limit: WorkLimit | None = None
) -> tuple[str, int] | None:
    """Feed events in time order and step due runs in between, jumping the clock; stop at `until`,
    or early when `limit` is reached: then returns which limit, and its size."""
    index = 0
    moments = steps = 0
    while True:
        if limit is not None and moments >= limit.moments:
            return "moments", limit.moments
        if limit is not None and steps >= limit.steps:
            return "steps", limit.steps
        moments += 1
        next_event = events[index].at if index < len(events) else None
        wake = engine.next_wake()
        if next_event is not None and (wake is None or next_event <= wake):
            if next_event > until:
                return None
            taken, reached = replay(engine, events, index, until)
            steps += taken - index
            index = taken
            clock.advance_to(reached)
        elif wake is not None:
            if wake > until:
                return None
            clock.advance_to(wake)
            steps += engine.run_due()
        else:
            return None


def replay(engine: Engine, events: Sequence[Event], start: int, until: datetime) -> tuple[int, datetime]:
    """Take the events from `start` on in one transaction, each at its own moment, and step the
    stored runs that wake between them at their wake time, just as taking each event and each wake
    on its own would: up to `until`, the next cron fire, or a moment the batch cannot step in
    order (see `Replay`). Returns the index of the first event not taken and the moment reached."""
    replay = Replay(engine, events, start, until, engine.scheduler.next_fire())
    taken, reached, done = retrying(replay.run, conflicts=True)
    engine.committed(done)
    return taken, reached


class Replay:
    """One batch of `replay`. Events minutes apart alternate with runs that wake minutes apart (a
    day's wait after each join); a transaction for each would cost more than the steps themselves.

    The batch stops, leaving the rest to `drive`, before anything whose order it could not keep:
    a run it parked that wakes (in the store it would be stepped with the others due then), a due
    run waiting for an event (an event of this batch may have woken it), a due run the batch has
    changed already (an exit of its journey), or an event after a run it woke parked to wait for
    one (the batch listens only for those an event parked)."""

    def __init__(
        self,
        engine: Engine,
        events: Sequence[Event],
        start: int,
        until: datetime,
        fire: datetime | None,
    ) -> None:
        self.engine = engine
        end = min(len(events), start + engine.batch_size)
        limit = min(until, fire) if fire is not None else until
        # Events at a due moment go before the runs due then; cron fires after the runs due then.
        end = bisect_right(events, limit, lo=start, hi=end, key=lambda e: e.at)
        self.start = start
        self.chunk = events[start:end]
        self.last_event = to_us(limit)
        last_run = to_us(until) if fire is None or until < fire else to_us(fire) - 1
        if end < len(events):
            last_run = min(last_run, to_us(events[end].at) - 1)
        self.last_run = last_run

    def run(self) -> tuple[int, datetime, BatchDone | None]:
        """The index of the first event not taken, the moment reached, and what to tell the hooks
        once the batch commits."""
        with self.engine.store.transaction() as conn:
            due = self._claim(conn)
            opened = self.engine.event_batch(
                conn, self.chunk, [r.member_id for r in due if r.member_id is not None]
            )
            if opened is None:
                return self.start + len(self.chunk), self.chunk[-1].at, None
            batch, known, seq = opened
            taken = self._step(batch, known, due, seq)
            batch.flush()
            return self.start + taken, batch.now, self.engine.hooks.summary(batch)

    def _claim(self, conn: Any) -> list[Run]:
        """The stored runs due by the last moment this batch may step one, in the order they became due."""
        size = self.engine.batch_size
        due = self.engine.store.claim_due(conn, self.last_run, size)
        if len(due) == size:
            # More may be due at the last one's moment: stop short of it (a second try of the
            # transaction only stops sooner).
            cut = due[-1].wake_at
            due = [r for r in due if r.wake_at < cut]
            self.last_run = cut - 1
            self.last_event = min(self.last_event, cut)
        return due

    def _step(self, batch: Batch, known: set[str], due: list[Run], seq: int) -> int:
        """Take events and wake due runs in time order; returns how many events of the chunk it took."""
        chunk = self.chunk
        taken = woken = 0
        while taken < len(chunk) or woken < len(due):
            parked = batch.earliest_wake
            event = chunk[taken] if taken < len(chunk) else None
            if event is not None and (woken == len(due) or to_us(event.at) <= due[woken].wake_at):
                at = to_us(event.at)
                if at > self.last_event or (parked is not None and at > parked):
                    break
                taken += 1
                if event.id not in known:
                    known.add(event.id)
                    batch.set_now(event.at)
                    batch.take(event, seq)
                    seq += 1
                continue
            # A run due before the batch's time (parked earlier to wake at a moment already past) is
            # stepped at that time, as `Engine.run_due` would with the clock there.
            moment = max(due[woken].wake_at, batch.now_us)
            if due[woken].wake_at > self.last_run or (parked is not None and parked <= moment):
                break
            end = woken
            while end < len(due) and due[end].wake_at <= moment:
                end += 1
            runs = due[woken:end]
            if any(r.wait_event is not None or r.id in batch.runs for r in runs):
                break
            woken = end
            if self._wake(batch, runs, moment):
                break
        return taken

    @staticmethod
    def _wake(batch: Batch, runs: list[Run], moment: int) -> bool:
        """Step runs due at `moment`, as `Engine.run_due` would; returns whether one of the runs it
        stepped (or started) now waits for an event."""
        before = len(batch.runs)
        batch.set_now(from_us(moment))
        batch.resume_due(runs)
        batch.process()
        stepped = runs if len(batch.runs) == before + len(runs) else islice(batch.runs.values(), before, None)
        return any(r.status == WAITING and r.wait_event is not None for r in stepped)


def report(store: Store, plans: Sequence[Any]) -> dict[str, Any]:
    tz = {p.flow.id: p.tz for p in plans}
    order = {p.flow.id: [n.id for n in p.flow.nodes] for p in plans}
    deliveries, skipped = [], []
    for d in store.deliveries():
        made = {
            "at": from_us(d["at"]).astimezone(tz.get(d["flow"])).isoformat(),
            "flow": d["flow"],
            "node": d["node"],
            "member": d["member"],
            "kind": d["kind"],
            "payload": d["payload"],
        }
        if d["status"] == "skipped":  # not made (the touch budget): reported apart, with the reason
            skipped.append({**made, "reason": d["reason"]})
        else:
            deliveries.append(made)
    statuses = store.journey_statuses()
    counts = store.node_counts()
    result = {
        "deliveries": deliveries,
        **({"skipped": skipped} if skipped else {}),
        "members": {mid: m.summary() for mid, m in sorted(store.all_members().items())},
        "runs": {
            flow_id: {s: statuses.get(flow_id, {}).get(s, 0) for s in STATUSES_REPORTED}
            for flow_id in sorted(tz)
        },
        "nodes": {
            flow_id: {
                node: counts[flow_id][node]["entered"]
                for node in order[flow_id]
                if counts.get(flow_id, {}).get(node, {}).get("entered")
            }
            for flow_id in sorted(tz)
        },
    }
    goals = {p.flow.id: goal_figures(p, counts.get(p.flow.id, {})) for p in plans if p.goal is not None}
    if goals:  # DESIGN §16: for every flow with a goal
        result["goals"] = dict(sorted(goals.items()))
    return result


STATUSES_REPORTED = ("done", "waiting", "active", "exited", "failed")
assert set(STATUSES_REPORTED) == set(STATUSES)


def encode_report(result: dict[str, Any]) -> bytes:
    return msgspec.json.format(msgspec.json.encode(result), indent=2) + b"\n"
