"""A step batch: everything one transaction loads, decides and writes.

The engine fills a batch with events or due runs, steps the runs in memory, and writes the members,
runs, events, deliveries and counters it touched in one go (:meth:`Batch.flush`).
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from .clock import from_us, to_us
from .community import Community, Made
from .connectors.tag_route import TagRoute, tag_changes
from .context import Context
from .event import Event
from .goal import Goals
from .hooks import BatchDone, RunFailed
from .member import Member, group_deltas
from .outcome import Exit, Fail, Go, WaitFor, WaitUntil
from .rollup import facts_now, local_day
from .run import ACTIVE, DONE, EXITED, FAILED, HOLDOUT, WAITING, Run
from .store.leases import NOTIFY_WAITING
from .store.rows import MEMBER_COLUMNS, stored_facts
from .store.tasks import TASK_KINDS, Closing

if TYPE_CHECKING:
    from .community_settings import CommunitySettings
    from .compiler import CounterKey, Plan, PlanNode
    from .flow_cache import FlowCache
    from .store.protocol import BatchStore, Tx

log = logging.getLogger("qunflow.engine")

ID_BLOCK = 1024
# Flows that start one another at one moment (a tag one adds fires another's `tag_added`, or
# `action.start_flow`) may chain this many links; a longer chain is a loop and starts nothing more.
MAX_CHAIN = 16
_encode = msgspec.json.encode
_decode = msgspec.json.decode


def event_view(event: Event, seq: int | None = None, at: str | None = None) -> dict[str, Any]:
    """An event as templates and `where` filters see it (`at`: its time as text, if known)."""
    return {
        "seq": seq,
        "id": event.id,
        "type": event.type,
        "member": event.member,
        "group": event.group,
        "channel": event.channel,
        "at": at if at is not None else event.at.isoformat(),
        "data": event.data,
    }


class Batch:
    """One transaction's worth of stepping, for the members `member_ids` (loaded at once) and those
    its events bring. Built on a store transaction (`conn`) at the moment `now`; nothing is written
    until :meth:`flush`."""

    def __init__(
        self,
        store: BatchStore,
        flows: FlowCache,
        conn: Tx,
        now: datetime,
        member_ids: Iterable[str],
        tag_route: TagRoute | None = None,
    ) -> None:
        self.store = store
        self.tag_route = tag_route
        self.flows = flows
        self._triggers = flows.by_event
        self.conn = conn
        self.now = now
        self.now_us = to_us(now)
        self.member_ids = sorted(set(member_ids))
        self.members: dict[str, Member] = self.store.load_members(conn, self.member_ids)
        self.runs: dict[int, Run] = {}
        self.pending: deque[tuple[Run, dict[str, Any] | None]] = deque()
        self.events: list[tuple[Any, ...]] = []  # rows of the `events` table
        self.deliveries: list[tuple[Any, ...]] = []  # rows of the `deliveries` table
        self.skipped: list[tuple[Any, ...]] = []  # deliveries not made (store.protection.SKIPPED_COLUMNS)
        # This batch's touches (messages made to a member) by member: what the touch budget adds to
        # the stored ones.
        self.touches: dict[str, list[int]] = {}
        self._settings: CommunitySettings | None = None
        # Deliveries with a staff member (tasks) or a run waiting to hear how they settle, by id:
        # (staff, notify), written as two more columns.
        self._marks: dict[int, tuple[str | None, str | None]] = {}
        # Staff tasks that this batch's `task_completed` events close (engine.store.tasks).
        self.closings: list[Closing] = []
        # This batch's deliveries by kind, as (time, flow, member, payload), for quota checks: made
        # when a step first asks, kept up to date from then on.
        self._made: dict[str, list[tuple[int, str, str | None, dict[str, Any]]]] | None = None
        self.counts: Counter[CounterKey] = Counter()
        self.community = Community(self.store, conn, self.members, self.member_ids)
        self.ctx = Context(self)
        self._next_id = self._ids_end = 0
        self._history: dict[tuple[str, str], list[int]] | None = None
        self._event_waits: list[Run] = []
        self._last_time: tuple[int | None, Any, str] = (None, None, "")
        self._waiting: dict[tuple[str | None, str | None], list[Run]] = {}
        # The earliest wake time of a run this batch parked (a replay must not pass it).
        self.earliest_wake: int | None = None
        # Runs started by other runs in this batch: how many links led to them; and the length a run
        # started now would have (0 when an event or the clock starts it).
        self._chain: dict[int, int] = {}
        self._cause = 0
        self._cut: set[str] = set()
        self.goals = Goals(self)

    def community_settings(self) -> CommunitySettings:
        """The community settings (DESIGN §18), read once a batch: an admin's change applies from the
        next batch on, in every process."""
        if self._settings is None:
            self._settings = self.flows.settings.current(self.conn)
        return self._settings

    def resume_due(self, runs: Iterable[Run]) -> None:
        """Queue runs whose wake time has come, in the order they became due. Under a touch budget,
        runs due within one second go by their flow's priority, higher first (equal priorities keep
        their order): messages that took their turn (nodes.quota) are then made in priority order.
        A second, not a microsecond: with the real clock, flows that fire at 10:00 park their turns
        a few milliseconds apart, one transaction each."""
        due = list(runs)
        if len(due) > 1 and self.community_settings().touch_budget is not None:
            conn, plan = self.conn, self.flows.plan

            def turn(run: Run) -> tuple[int, int]:
                priority = plan(run.flow_id, run.version, conn).flow.settings.priority
                return ((run.wake_at or 0) // _SECOND, -priority)

            due.sort(key=turn)
        for run in due:
            self.resume(run, None)

    def set_now(self, moment: datetime) -> None:
        """Move the batch's time forward (events replayed at their own time)."""
        self.now = self.ctx.now = moment
        self.now_us = to_us(moment)

    # -- ids -----------------------------------------------------------------------------------------

    def next_id(self) -> int:
        found = self._next_id
        if found >= self._ids_end:
            found = self.store.allocate(self.conn, "ids", ID_BLOCK)
            self._ids_end = found + ID_BLOCK
        self._next_id = found + 1
        return found

    # -- members -------------------------------------------------------------------------------------

    def member(self, member_id: str, at: int) -> Member:
        member = self.members.get(member_id)
        if member is None:
            member = self.members[member_id] = Member(member_id, first_seen=at, is_new=True)
        return member

    # -- runs ----------------------------------------------------------------------------------------

    def history(self) -> dict[tuple[str, str], list[int]]:
        if self._history is None:
            found = self.store.entry_history(self.conn, self.member_ids) if self.member_ids else {}
            self._history = {key: [live, last] for key, (live, last) in found.items()}
        return self._history

    def can_enter(self, plan: Plan, member: Member | None) -> bool:
        if self._cause > MAX_CHAIN:
            if plan.flow.id not in self._cut:  # said once a batch and flow: a loop repeats itself
                self._cut.add(plan.flow.id)
                log.warning(
                    "flow `%s` was not started for member %s: %d flows in a row started one another "
                    "(a loop of start_flow or tag_added?); the chain stops here",
                    plan.flow.id,
                    member.id if member else "-",
                    self._cause - 1,
                )
            return False
        if member is None:
            return True
        live, last = self.history().get((plan.flow.id, member.id), (0, None))
        if live:
            return False
        if last is None:
            return True
        if plan.reentry is None:
            return False
        return self.now_us >= last + int(plan.reentry.total_seconds() * 1_000_000)

    def start(self, plan: Plan, node: PlanNode, member: Member | None, event: dict[str, Any] | None) -> Run:
        run_id = self.next_id()
        now = self.now_us
        member_id = member.id if member is not None else None
        seq = event.get("seq") if event else None
        run = Run(
            run_id,
            run_id,
            plan.flow.id,
            plan.version,
            member_id,
            now,
            node.id,
            ACTIVE,
            now,
            None,
            None,
            None,
            seq,
        )
        run.is_new = run.dirty = True
        run.event = event
        self.runs[run_id] = run
        if self._cause:
            self._chain[run_id] = self._cause
        if member_id is not None:
            history = self._history if self._history is not None else self.history()
            entry = history.get((plan.flow.id, member_id))
            if entry is None:
                history[(plan.flow.id, member_id)] = [1, now]
            else:
                entry[0] += 1
                entry[1] = now
        self.counts[node.entered] += 1
        held_out = (
            plan.holdout > 0
            and member_id is not None
            and self.ctx.fraction(plan.flow.id, member_id) < plan.holdout
        )
        self.goals.started(plan, run, held_out)
        if plan.goal is not None and member_id is not None:
            self.goals.passed(run, node.entered)
        if held_out:
            # The control group (DESIGN §16): entered, and out before the node after the trigger.
            self.end_early(run, EXITED, HOLDOUT)
        else:
            self.pending.append((run, None))
        return run

    def start_other_flow(self, flow_id: str, run: Run, member: Member | None) -> bool:
        plan = self.flows.live_plan(flow_id)
        if plan is None or not self.can_enter(plan, member):
            return False
        self.start(plan, plan.entry(), member, self.run_event(run))
        return True

    def run_event(self, run: Run) -> dict[str, Any] | None:
        """The event that started or last resumed a run. Stored runs get theirs on first need: all of
        the batch's at once, in one query, and only when a step reads `event.*`."""
        if run.event is None and run.event_seq is not None:
            waiting = [r for r in self.runs.values() if r.event is None and r.event_seq is not None]
            views = self.store.load_events(self.conn, {r.event_seq for r in waiting})
            for other in waiting:
                other.event = views.get(other.event_seq) or {}
        return run.event

    def resume(self, run: Run, wake_event: dict[str, Any] | None) -> None:
        self.runs[run.id] = run
        self.pending.append((run, wake_event))

    def await_events(self, runs: Iterable[Run]) -> None:
        """Runs (stored, or parked by this batch) waiting for an event of their member."""
        waiting = self._waiting
        for run in runs:
            key = (run.member_id, run.wait_event)
            if key in waiting:
                waiting[key].append(run)
            else:
                waiting[key] = [run]

    def _keep(self, event: Event, seq: int) -> int:
        """Queue the event's row for the store; returns its time in microseconds."""
        at = to_us(event.at)
        data = _encode(event.data).decode() if event.data else None
        self.events.append((seq, event.id, event.type, event.member, event.group, event.channel, at, data))
        return at

    def take(self, event: Event, seq: int) -> None:
        """One event, in the order of DESIGN §5: update the member, start runs through triggers,
        then resume the runs that were already waiting for it (never one the event just started)."""
        at = self._keep(event, seq)
        view = event_view(event, seq, self._time_text(event.at, at))
        member = self.member(event.member, at) if event.member is not None else None
        self.community.apply_event(event, member, at)
        if member is not None:
            # Before runs start or resume: the event that starts a run never converts it.
            self.goals.observe(event.type, view, member, at)
        if event.type == "task_completed" and member is not None:
            self._close_task(event, member.id, at)
        resumable = self._waiting.pop((event.member, event.type), None) if member is not None else None
        if member is not None and member.tags_added:
            self.fire_tag_added(member)
        self.fire_triggers(event, view, member)
        self.process()
        if resumable:
            for run in resumable:
                self.resume(run, view)
            self.process()
        if self._event_waits:
            self.await_events(self._event_waits)
            self._event_waits = []

    def _close_task(self, event: Event, member_id: str, at: int) -> None:
        """A `task_completed` event closes the member's open task from its flow and node (DESIGN §6),
        or the one task it names (`data.delivery`, as the task page sends)."""
        data = event.data
        flow, node, outcome = data.get("flow"), data.get("node"), data.get("outcome")
        delivery = data.get("delivery")
        if isinstance(flow, str) and isinstance(node, str) and outcome in ("done", "skipped"):
            only = delivery if isinstance(delivery, int) and not isinstance(delivery, bool) else None
            self.closings.append((outcome, at, member_id, flow, node, only))

    def settle(self, event: Event, seq: int, run: Run | None) -> None:
        """A delivery settled (engine.settlements): the event that says so joins the member's timeline and
        starts the flows it triggers; then `run`, waiting for this delivery at its node, resumes with
        it (a run that no longer waits there is left alone)."""
        at = self._keep(event, seq)
        view = event_view(event, seq, self._time_text(event.at, at))
        member = self.member(event.member, at) if event.member is not None else None
        self.fire_triggers(event, view, member)
        self.process()
        if (
            run is not None
            and run.status == WAITING
            and run.wait_event == event.type
            and run.node == event.data.get("node")
        ):
            self.resume(run, view)
            self.process()

    def _time_text(self, moment: datetime, at: int) -> str:
        """An event's time as ISO 8601 text. Events come in bursts that share a timestamp (WeCom's
        callbacks give whole seconds), so the last one's text is kept: the same instant in the same
        time zone reads the same."""
        if at != self._last_time[0] or moment.tzinfo is not self._last_time[1]:
            self._last_time = (at, moment.tzinfo, moment.isoformat())
        return self._last_time[2]

    def process(self) -> None:
        """Step every pending run until it waits or ends; new runs and forks join the queue."""
        while self.pending:
            run, wake = self.pending.popleft()
            self._cause = self._chain.get(run.id, 0) + 1
            self._advance(run, wake)
        self._cause = 0

    def _advance(self, run: Run, wake: dict[str, Any] | None) -> None:
        plan = self.flows.plan(run.flow_id, run.version, self.conn)
        nodes = plan.nodes
        member = self.members.get(run.member_id) if run.member_id else None
        ctx = self.ctx
        counts = self.counts
        # Only a member's journey can reach a goal: a group-level run keeps no path.
        tracking = plan.goal is not None and run.member_id is not None
        run.dirty = True
        run.status = ACTIVE
        run.wake_at = run.wait_event = None
        # The first step of a stored run the clock woke is at the node where it waited.
        resumed = wake is None and not run.is_new
        while True:
            node = nodes[run.node]
            if node.kind == "trigger":
                outcome: Any = _NEXT
            else:
                # Context._bind, inline: this runs for every step.
                ctx.plan, ctx.node, ctx.run, ctx.member, ctx.wake_event, ctx._made, ctx.resumed = (
                    plan,
                    node,
                    run,
                    member,
                    wake,
                    0,
                    resumed,
                )
                try:
                    outcome = node.step(ctx, node.config)
                except Exception as error:  # a node's bug fails its run, never the batch
                    outcome = Fail(f"{type(error).__name__}: {error}")
            if member is not None and member.tags_added:
                self.fire_tag_added(member)
            kind = type(outcome)
            if kind is Go:
                if wake is not None:
                    run.event, run.event_seq = wake, wake.get("seq")
                    wake = None
                counter, successors, entered = node.exits.get(outcome.port) or node.exit(outcome.port)
                counts[counter] += 1
                if tracking:
                    self.goals.passed(run, counter)
                if not successors:
                    self._end(run, DONE)
                    return
                if len(successors) > 1:
                    for extra in successors[1:]:
                        self._fork(plan, run, extra)
                run.node = successors[0]
                run.entered_at = self.now_us
                counts[entered] += 1
                if tracking:
                    self.goals.passed(run, entered)
                resumed = False
                continue
            if kind is WaitUntil:
                self._park(run, to_us(outcome.at), None)
                return
            if kind is WaitFor:
                until = outcome.until
                self._park(run, to_us(until) if until is not None else None, outcome.event)
                self._event_waits.append(run)
                return
            if kind is Exit:
                self._end(run, EXITED)
                self.exit_journey(run)
                return
            if kind is Fail:
                run.error = f"{node.id}: {outcome.reason}"
            else:
                run.error = f"{node.id}: the step returned {outcome!r}, not an outcome"
            self._end(run, FAILED)
            return

    def _park(self, run: Run, wake_at: int | None, event: str | None) -> None:
        run.status = WAITING
        run.due_seq = self.next_id()
        run.wake_at = wake_at
        run.wait_event = event
        if wake_at is not None and (self.earliest_wake is None or wake_at < self.earliest_wake):
            self.earliest_wake = wake_at

    def _fork(self, plan: Plan, run: Run, node_id: str) -> None:
        fork_id = self.next_id()
        fork = Run(
            fork_id,
            run.journey,
            run.flow_id,
            run.version,
            run.member_id,
            run.started_at,
            node_id,
            ACTIVE,
            self.now_us,
            event_seq=run.event_seq,
            vars=dict(run.vars) if run.vars else None,
            converted_at=run.converted_at,
            is_new=True,
        )
        fork.event = self.run_event(run)
        self.runs[fork_id] = fork
        if run.id in self._chain:
            self._chain[fork_id] = self._chain[run.id]
        if run.member_id is not None:
            self.history().setdefault((run.flow_id, run.member_id), [0, None])[0] += 1
        self.counts[plan.nodes[node_id].entered] += 1
        if plan.goal is not None and run.member_id is not None:
            self.goals.passed(fork, plan.nodes[node_id].entered)
        self.pending.append((fork, None))

    def _end(self, run: Run, status: str) -> None:
        run.status = status
        run.ended_at = self.now_us
        run.wake_at = run.wait_event = None
        if run.member_id is not None and self._history is not None:
            entry = self._history.get((run.flow_id, run.member_id))
            if entry is not None and entry[0] > 0:
                entry[0] -= 1

    def end_early(self, run: Run, status: str, reason: str) -> None:
        """End a run from outside its steps (its journey converted, or it is held out): it is no
        longer due, awaited or queued."""
        if run.status == WAITING and run.wait_event is not None:
            waiting = self._waiting.get((run.member_id, run.wait_event))
            if waiting and run in waiting:
                waiting.remove(run)
        if self.pending:
            self.pending = deque(p for p in self.pending if p[0] is not run)
        self._end(run, status)
        run.reason = reason
        run.dirty = True
        self.runs[run.id] = run

    def exit_journey(self, run: Run) -> None:
        """`action.exit` (or a person taking the member out) ends the whole journey, forked branches
        included."""
        plan = self.flows.plan(run.flow_id, run.version, self.conn)
        if not plan.forks:
            return
        others = {r.id: r for r in self.store.live_journey_runs(self.conn, run.journey)}
        others.update({r.id: r for r in self.runs.values() if r.journey == run.journey})
        for other in others.values():
            if other.id != run.id and other.status in (ACTIVE, WAITING):
                self.runs[other.id] = self.runs.get(other.id, other)
                self.pending = deque(p for p in self.pending if p[0].id != other.id)
                self._end(self.runs[other.id], EXITED)
                self.runs[other.id].dirty = True

    def fire_tag_added(self, member: Member) -> None:
        added, member.tags_added = member.tags_added, []
        if "tag_added" not in self._triggers:
            return
        for tag in added:
            event = Event(
                id=f"tag:{member.id}:{tag}:{self.now_us}",
                type="tag_added",
                at=self.now,
                member=member.id,
                data={"tag": tag},
            )
            self.fire_triggers(event, event_view(event), member)

    def fire_triggers(self, event: Event, view: dict[str, Any], member: Member | None) -> None:
        ctx = self.ctx
        for plan, node in self._triggers.get(event.type, ()):
            ctx._bind(plan, node, None, member, view)
            if node.step(ctx, node.config) and self.can_enter(plan, member):
                self.start(plan, node, member, view)

    def fire_schedule(
        self, plan: Plan, node: PlanNode, members: Iterable[Member | None], view: dict[str, Any]
    ) -> int:
        """A cron fire of a scheduled trigger: start a run for each member it accepts (None: one run
        with no member); returns how many started."""
        ctx = self.ctx
        started = 0
        for member in members:
            ctx._bind(plan, node, None, member, view)
            if node.step(ctx, node.config) and self.can_enter(plan, member):
                self.start(plan, node, member, view)
                started += 1
        return started

    # -- effects -------------------------------------------------------------------------------------

    def deliver(
        self,
        flow_id: str,
        node_id: str,
        run_id: int,
        member_id: str | None,
        kind: str,
        payload: dict[str, Any],
        key: str,
        wait: bool = False,
    ) -> None:
        now = self.now_us
        # A touch (DESIGN §18): a message made to the member; what the touch budget counts.
        touch = kind == "message" and member_id is not None and payload.get("to") == "member"
        if touch:
            self.touches.setdefault(member_id, []).append(now)  # type: ignore[arg-type]
        delivery_id = self.next_id()
        if wait or kind in TASK_KINDS:
            self._marks[delivery_id] = (
                self._task_staff(kind, payload) if kind in TASK_KINDS else None,
                NOTIFY_WAITING if wait else None,
            )
        self.deliveries.append(
            (
                delivery_id,
                key,
                flow_id,
                node_id,
                run_id,
                member_id,
                kind,
                _encode(payload).decode(),
                now,
                "pending",
                0,
                now,
                touch,
            )
        )
        if self._made is not None:
            self._made.setdefault(kind, []).append((now, flow_id, member_id, payload))

    def skip(
        self,
        flow_id: str,
        node_id: str,
        run_id: int,
        member_id: str | None,
        kind: str,
        payload: dict[str, Any],
        key: str,
        reason: str,
    ) -> None:
        """A delivery not made (status `skipped`, with its reason): recorded, never sent, never counted."""
        now = self.now_us
        row = (self.next_id(), key, flow_id, node_id, run_id, member_id, kind, _encode(payload).decode())
        self.skipped.append((*row, now, "skipped", 0, None, False, reason))

    def _task_staff(self, kind: str, payload: dict[str, Any]) -> str:
        """The staff member a task is for: the one it names, for a removal the group's owner; `''`
        when no one is known (the inbox lists those under no one)."""
        staff = payload.get("staff")
        if staff is None and kind == "remove" and isinstance(payload.get("group"), str):
            staff = self.community.group(payload["group"]).get("owner")
        return staff if isinstance(staff, str) else ""

    def made(self, kind: str) -> Made:
        """This batch's deliveries of a kind, as (time, flow, member, payload)."""
        if self._made is None:
            self._made = {}
            for _, _, flow_id, _, _, member_id, each, payload, at, *_ in self.deliveries:
                self._made.setdefault(each, []).append((at, flow_id, member_id, _decode(payload)))
        return self._made.get(kind, ())

    def flush(self) -> None:
        store, conn = self.store, self.conn
        store.insert_events(conn, self.events)
        # Groups only seen in events exist from now on (those the batch read are known to exist).
        seen = self.community.groups_seen
        store.ensure_groups(conn, sorted(g for g in seen if g not in self.community.groups))
        store.add_group_members(conn, group_deltas(self.members.values()), known=seen)
        # The rollups count members as they were stored and as they are now: before the write.
        tally, today = self.community.tally, local_day(self.now_us)
        for member in self.members.values():
            if member.dirty:
                tally.member_moved(stored_facts(member), facts_now(member), today)
        if self.tag_route is not None:
            self._tag_deliveries()
        store.write_members(conn, self.members.values())
        store.write_runs(conn, self.runs.values())
        if self._marks:
            marks = self._marks
            store.insert_deliveries(conn, [d for d in self.deliveries if d[0] not in marks])
            store.insert_deliveries(conn, [(*d, *marks[d[0]]) for d in self.deliveries if d[0] in marks])
        else:
            store.insert_deliveries(conn, self.deliveries)
        self.goals.flush(store, conn)
        if self.skipped:
            store.insert_skipped(conn, self.skipped)
        if self.closings:
            store.close_tasks(conn, self.closings)
        store.add_counts(conn, self.counts)
        # Last, like the counters: rows every batch moves are held for the shortest time.
        store.add_stats(conn, tally.changes())

    def _tag_deliveries(self) -> None:
        """A `tag` delivery for each member whose tags this batch changed, while `tag` is routed to
        a connector that syncs tags (asked once per batch)."""
        if not self.tag_route.on(self.store, self.conn):  # type: ignore[union-attr]
            return
        changed = []
        for member in self.members.values():
            if member.dirty:
                before = _stored_tags(member)
                if before is not None and before != member.tags:
                    payload = tag_changes(before, member.tags)
                    if payload is not None:
                        changed.append((member.id, payload))
        if not changed:
            return
        # Each change under the run that last stepped its member here; a person's edit has none.
        steps = {run.member_id: run for run in self.runs.values() if run.member_id is not None}
        for member_id, payload in changed:
            run = steps.get(member_id)
            key = f"tag:{member_id}:{self.next_id()}"
            if run is None:
                self.deliver("", TAG_NODE, None, member_id, "tag", payload, key)  # type: ignore[arg-type]
            else:
                self.deliver(run.flow_id, run.node or TAG_NODE, run.id, member_id, "tag", payload, key)

    def done(self) -> BatchDone:
        """What the batch did, for hooks (call after :meth:`flush`)."""
        statuses: Counter[str] = Counter()
        failed: list[RunFailed] = []
        for run in self.runs.values():
            statuses[run.status] += 1
            if run.status == FAILED:
                failed.append(
                    RunFailed(
                        run.id,
                        run.journey,
                        run.flow_id,
                        run.version,
                        run.node,
                        run.member_id,
                        run.error or "",
                        from_us(run.ended_at if run.ended_at is not None else self.now_us),
                    )
                )
        counts: Counter[tuple[str, str, str]] = Counter()
        for (flow_id, node, counter, _version), value in self.counts.items():
            counts[(flow_id, node, counter)] += value  # the hooks' counts are over versions
        return BatchDone(
            self.now, len(self.events), dict(statuses), len(self.deliveries), dict(counts), tuple(failed)
        )


_NEXT = Go("next")
_SECOND = 1_000_000
TAG_NODE = "tags"  # the `node` of a tag delivery no flow step made (a person's bulk edit)
_TAGS = MEMBER_COLUMNS.index("tags")


def _stored_tags(member: Member) -> list[str] | None:
    """The member's tags as the store has them: none for a new member, None when not known."""
    if member.is_new:
        return []
    if member.stored is None:
        return None
    text = member.stored[_TAGS]
    return _decode(text) if text else []
