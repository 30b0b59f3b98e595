"""The engine: ingests events, steps due runs, in batches, one transaction each."""

from __future__ import annotations

import gc
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import msgspec

from .batch import Batch
from .clock import Clock, RealClock, from_us, to_us
from .compiler import Plan, Problem, check, compile_flow
from .connectors.tag_route import TagRoute
from .errors import Conflict, UserError
from .event import Event
from .flow import ID_PATTERN
from .flow_cache import FlowCache
from .hooks import BatchDone, HookChain, Hooks
from .registry import Registry, default_registry
from .run import EXITED, FAILED, REMOVED, WAITING
from .schedule import Scheduler
from .store import Store
from .store.retry import retrying


class IngestResult(msgspec.Struct):
    accepted: int = 0
    duplicate: int = 0


class LeasedBatch(msgspec.Struct, frozen=True):
    """One batch of :meth:`Engine.step_leased`: runs leased, and how many of them were stepped (the
    others were stepped meanwhile by an event or by a worker that took the lease over)."""

    leased: int = 0
    stepped: int = 0


class Engine:
    """Runs published flows on a store. The caller drives it: `ingest`, `run_due`, repeat.

    `hooks` are told of every batch once it has committed, and of every run it failed (see
    :mod:`engine.hooks` for the order and what they receive)."""

    def __init__(
        self,
        store: Store,
        registry: Registry | None = None,
        clock: Clock | None = None,
        batch_size: int = 500,
        hooks: Iterable[Hooks] = (),
        tag_route: TagRoute | None = None,
    ) -> None:
        self.store = store
        # Member tag changes become `tag` deliveries while `tag` is routed to a connector (§19).
        self.tag_route = tag_route or TagRoute()
        self.registry = registry or default_registry()
        self.clock = clock or RealClock()
        self.batch_size = batch_size
        self.hooks = HookChain(hooks)
        self.flows = FlowCache(store, self.registry)
        self.scheduler = Scheduler(store, self.flows, batch_size, self.hooks, self.tag_route)

    # -- flows ---------------------------------------------------------------------------------------

    def save_draft(self, document: dict[str, Any]) -> Plan:
        """Store a flow's draft. Raises FlowInvalid (with every problem) and stores nothing if invalid."""
        plan = compile_flow(document, self.registry)
        self.store.save_draft(plan.flow.id, plan.flow.name, msgspec.to_builtins(plan.flow), self._now_us())
        return plan

    def save_unfinished(self, document: dict[str, Any]) -> list[Problem]:
        """Store a draft that may still have problems — an operator's work in progress — and return
        them; publishing refuses the draft until they are fixed. It needs only a valid `id`, a
        `nodes` list and an `edges` list; a draft without problems is stored as `save_draft` does."""
        flow_id = document.get("id")
        if not isinstance(flow_id, str) or re.fullmatch(ID_PATTERN, flow_id) is None:
            raise UserError(
                "id: letters, digits, `_ - .`, starting with a letter or digit (流程 ID 格式不对)"
            )
        for key in ("nodes", "edges"):
            if not isinstance(document.get(key, []), list):
                raise UserError(f"{key}: a list (应为列表)")
        flow, _, problems = check(
            document, self.registry, flows=self.flow_ids() | {flow_id}, content=self.store.content_index()
        )
        stored = msgspec.to_builtins(flow) if flow is not None and not problems else document
        name = document.get("name")
        self.store.save_draft(flow_id, name if isinstance(name, str) else flow_id, stored, self._now_us())
        return problems

    def publish(self, flow_id: str, elsewhere: Collection[str] = ()) -> int:
        """Freeze the draft as the next version and make it live. Nodes may name the flows of this
        store and those `elsewhere` (a preview's store is not where its flow's neighbours live), and
        the items of this store's content library."""
        draft = self.store.get_flow(flow_id).draft
        compile_flow(
            draft, self.registry, flows=self.flow_ids() | set(elsewhere), content=self.store.content_index()
        )
        version = self.store.publish(flow_id, draft, self._now_us())
        self.flows.reload()
        self.scheduler.sync(self.clock.now())
        return version

    def rollback(self, flow_id: str, version: int) -> int:
        """Publish an earlier `version` again, as the next version, and make it live. The draft is
        kept when it holds unpublished work; otherwise it becomes that version too, so the editor
        opens what is live."""
        record = self.store.get_flow(flow_id)
        document = self.store.version_document(flow_id, version)
        # The node library or the content library may have changed since: check it as a publish would.
        compile_flow(document, self.registry, flows=self.flow_ids(), content=self.store.content_index())
        live = self.store.version_document(flow_id, record.live_version) if record.live_version else None
        now = self._now_us()
        published = self.store.publish(flow_id, document, now)
        if live is not None and record.draft == live:
            self.store.save_draft(flow_id, str(document.get("name") or record.name), document, now)
        self.flows.reload()
        self.scheduler.sync(self.clock.now())
        return published

    def flow_ids(self) -> set[str]:
        """The ids of every stored flow, draft or live (what a node that names a flow may name)."""
        return {f["id"] for f in self.store.list_flows()}

    def deploy(self, document: dict[str, Any]) -> int:
        """Save and publish in one go (templates, `simulate`)."""
        plan = self.save_draft(document)
        return self.publish(plan.flow.id)

    def set_paused(self, flow_id: str, paused: bool) -> None:
        resumed = not paused and self.store.get_flow(flow_id).paused
        self.store.set_paused(flow_id, paused)
        self.flows.reload()
        if resumed:
            self.scheduler.restart(flow_id, self.clock.now())

    # -- events --------------------------------------------------------------------------------------

    def ingest(self, events: Sequence[Event]) -> IngestResult:
        """Store and act on events, each id once; updates members, starts and resumes runs."""
        result = IngestResult()
        for start in range(0, len(events), self.batch_size):
            chunk = events[start : start + self.batch_size]
            # Two processes may take in the same events at once: the one that commits second fails
            # on the unique event id, rolls back whole, and finds them known on its second try.
            accepted, done = retrying(lambda chunk=chunk: self._ingest_batch(chunk), conflicts=True)
            self.committed(done)
            result.accepted += accepted
            result.duplicate += len(chunk) - accepted
        return result

    def _ingest_batch(self, events: Sequence[Event]) -> tuple[int, BatchDone | None]:
        """Take in a batch of events at the clock's time; returns how many were new, and what to tell
        the hooks once it commits."""
        with self.store.transaction() as conn:
            opened = self.event_batch(conn, events)
            if opened is None:
                return 0, None
            batch, known, seq = opened
            accepted = 0
            for event in events:
                if event.id not in known:
                    known.add(event.id)
                    batch.take(event, seq)
                    seq += 1
                    accepted += 1
            batch.flush()
            return accepted, self.hooks.summary(batch)

    def event_batch(
        self, conn: Any, events: Sequence[Event], also: Sequence[str] = ()
    ) -> tuple[Batch, set[str], int] | None:
        """A batch for events and for the members `also` named (whose due runs it steps too), or
        None when every event is known already. Returns the batch, the ids of the events known
        already, and the sequence number of the first new one (one is reserved for each).

        Locks in the order every batch takes them: runs, then members. Once it holds the members,
        an ingester of the same events elsewhere has committed (or waits for us)."""
        store = self.store
        involved = sorted({e.member for e in events if e.member is not None})
        event_waits = store.event_waiting_runs(conn, involved) if involved else []
        goals = self._goal_watches(conn, events, event_waits)
        store.lock_members(conn, [*involved, *also])
        ids = {e.id for e in events}
        known = store.known_event_ids(conn, sorted(ids))
        fresh = ids - known
        if not fresh:
            return None
        members = {e.member for e in events if e.member is not None and e.id in fresh}.union(also)
        batch = Batch(store, self.flows, conn, self.clock.now(), members, self.tag_route)
        batch.await_events(event_waits)
        if goals is not None:
            batch.goals.watch(*goals)
        return batch, known, store.allocate(conn, "events", len(fresh))

    def _goal_watches(
        self, conn: Any, events: Sequence[Event], loaded: Sequence[Any]
    ) -> tuple[list, list] | None:
        """The open journeys with a goal that these events may convert, and their runs (locked here,
        with the other runs, before the members; the runs `loaded` already are taken as they are)."""
        goal_events = self.flows.goal_events
        if not goal_events:
            return None
        members = sorted({e.member for e in events if e.member is not None and e.type in goal_events})
        if not members:
            return None
        journeys = self.store.open_goals(conn, members, to_us(min(e.at for e in events)))
        if not journeys:
            return None
        ids = {j.journey for j in journeys}
        known = {r.id: r for r in loaded}
        runs = [known.get(r.id, r) for r in self.store.goal_runs(conn, members) if r.journey in ids]
        return journeys, runs

    # -- time ----------------------------------------------------------------------------------------

    def run_due(self, now: datetime | None = None) -> int:
        """Step every run whose wake time has come, then fire the due cron schedules; returns how
        many runs were stepped or started."""
        moment = now or self.clock.now()
        now_us = to_us(moment)
        stepped = 0
        more = True
        while more:
            count, more, done = retrying(lambda: self._claim_and_step(now_us, moment))
            self.committed(done)
            stepped += count
        return stepped + self.scheduler.fire_due(moment)

    def resume_settled(self, now: datetime | None = None) -> int:
        """Resume the runs waiting for deliveries that have settled since (engine.settlements);
        returns how many settlements were taken."""
        from .settlements import resume_settled

        return resume_settled(self, now)

    def fire_schedules(self, now: datetime | None = None) -> int:
        """Fire the cron schedules due at `now` (default: the clock's); returns how many runs started."""
        return self.scheduler.fire_due(now or self.clock.now())

    def _claim_and_step(self, now_us: int, moment: datetime) -> tuple[int, bool, BatchDone | None]:
        """Step one batch of due runs; returns how many, whether more may be due already (a full
        batch, or a run the batch parked until a moment already come), and what to tell the hooks."""
        with self.store.transaction() as conn:
            runs = self.store.claim_due(conn, now_us, self.batch_size)
            batch = self._step_runs(conn, runs, moment)
            earliest = batch.earliest_wake if batch is not None else None
            more = len(runs) == self.batch_size or (earliest is not None and earliest <= now_us)
            return len(runs), more, self.hooks.summary(batch)

    def step_leased(self, owner: str, lease: timedelta, now: datetime | None = None) -> LeasedBatch:
        """Lease one batch of due runs to `owner` for `lease`, step them and commit (engine.worker).

        The lease is taken and committed first; the step then takes only the runs still leased to
        `owner`, so a run is never stepped twice, however slow this worker is. If the worker dies in
        between, its runs are due again for every worker once the lease has run out."""
        moment = now or self.clock.now()
        now_us = to_us(moment)
        ids = self.store.lease_due(now_us, self.batch_size, owner, to_us(moment + lease))
        if not ids:
            return LeasedBatch()

        def step() -> tuple[int, BatchDone | None]:
            with self.store.transaction() as conn:
                runs = self.store.take_leased(conn, ids, owner, now_us)
                return len(runs), self.hooks.summary(self._step_runs(conn, runs, moment))

        stepped, done = retrying(step)
        self.committed(done)
        return LeasedBatch(len(ids), stepped)

    def _step_runs(self, conn: Any, runs: list[Any], moment: datetime) -> Batch | None:
        """Step claimed runs (their rows locked) in one batch, written but not committed."""
        if not runs:
            return None
        members = {r.member_id for r in runs if r.member_id is not None}
        self.store.lock_members(conn, members)
        batch = Batch(self.store, self.flows, conn, moment, members, self.tag_route)
        batch.resume_due(runs)
        batch.process()
        batch.flush()
        return batch

    def committed(self, done: BatchDone | None) -> None:
        """Tell the hooks what a batch did, once it has committed (`HookChain.summary`)."""
        if done is not None:
            self.hooks.after_batch(done)

    def next_wake(self) -> datetime | None:
        """The next moment a run wakes or a cron schedule fires."""
        at = self.store.next_wake()
        wake = from_us(at) if at is not None else None
        fire = self.scheduler.next_fire()
        return min(wake, fire) if wake is not None and fire is not None else wake or fire

    def retry(self, run_id: int) -> None:
        """Step a failed run again from the node where it failed."""
        with self.store.transaction() as conn:
            run = self.store.get_run(conn, run_id)
            if run.status != FAILED:
                raise Conflict(f"run {run_id} is {run.status}, not failed")
            members = [run.member_id] if run.member_id else []
            batch = Batch(self.store, self.flows, conn, self.clock.now(), members, self.tag_route)
            run.error = None
            run.ended_at = None
            batch.resume(run, None)
            batch.process()
            batch.flush()
            done = self.hooks.summary(batch)
        self.committed(done)

    def remove_from_flow(self, run_id: int) -> None:
        """Take a member out of a flow: their waiting run ends at once (status `exited`, reason
        `removed`), with the rest of its journey, and its flow sends them nothing more. A run that is
        not waiting is refused (409): a finished one is already out, an active one is being stepped."""
        with self.store.transaction() as conn:
            run = self.store.lock_run(conn, run_id)
            if run.status != WAITING:
                raise Conflict(
                    f"run {run_id} is {run.status}: only a waiting run can be taken out "
                    "(只有等待中的旅程可以移出)"
                )
            members = [run.member_id] if run.member_id else []
            batch = Batch(self.store, self.flows, conn, self.clock.now(), members, self.tag_route)
            batch.end_early(run, EXITED, REMOVED)
            batch.exit_journey(run)
            batch.flush()
            done = self.hooks.summary(batch)
        self.committed(done)

    def _now_us(self) -> int:
        return to_us(self.clock.now())


__all__ = ["Engine", "IngestResult", "LeasedBatch", "settle", "settled"]


def settle() -> None:
    """Call once a long-running process has loaded its code and flows (serve, worker, bench).

    Everything alive by then is moved out of the garbage collector's sight, so the full collections
    that a busy engine's allocations trigger no longer walk the whole program each time (measured:
    about a fifth of the step time at 100,000 journeys). A batch makes tens of thousands of objects
    that live until it commits and are then freed by reference counting: the youngest generation is
    collected every 20,000 allocations rather than every 700, so that they are not walked again and
    again while the batch runs (measured: 3–4% of the instructions of a batch)."""
    gc.freeze()
    gc.set_threshold(*_THRESHOLDS)


_THRESHOLDS = (20_000, 10, 10)


@contextmanager
def settled() -> Iterator[None]:
    """:func:`settle` for a while, undone on leaving (`simulate` in a process that has not settled:
    a simulated month's batches would otherwise set off full collections that walk it all, about a
    tenth of the run). A process that has settled already is left as it is."""
    if gc.get_freeze_count():
        yield
        return
    before = gc.get_threshold()
    settle()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
