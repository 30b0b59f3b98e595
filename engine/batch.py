"""A step batch: everything one transaction loads, decides and writes.

The engine fills a batch with events or due runs, steps the runs in memory, and writes the members,
runs, events, deliveries and counters it touched in one go (:meth:`Batch.flush`).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import Connection

from .clock import to_us
from .context import Context
from .event import Event
from .member import Member
from .outcome import Exit, Fail, Go, WaitFor, WaitUntil
from .run import ACTIVE, DONE, EXITED, FAILED, WAITING, Run
from .store.community import group_deltas

if TYPE_CHECKING:
    from .audience import Audience
    from .compiler import Plan, PlanNode
    from .engine import Engine

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
    def __init__(self, engine: Engine, conn: Connection, now: datetime, member_ids: Iterable[str]) -> None:
        self.engine = engine
        self.store = engine.store
        self.flows = engine.flows
        self._triggers = engine.flows.by_event
        self.conn = conn
        self.now = now
        self.now_us = to_us(now)
        self.member_ids = sorted(set(member_ids))
        self.members: dict[str, Member] = self.store.load_members(conn, self.member_ids)
        self.runs: dict[int, Run] = {}
        self.pending: deque[tuple[Run, dict[str, Any] | None]] = deque()
        self.events: list[tuple[Any, ...]] = []  # rows of the `events` table
        self.deliveries: list[tuple[Any, ...]] = []  # rows of the `deliveries` table
        # This batch's deliveries by kind, as (time, flow, member, payload), for quota checks: made
        # when a step first asks, kept up to date from then on.
        self._made: dict[str, list[tuple[int, str, str | None, dict[str, Any]]]] | None = None
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self.groups_seen: set[str] = set()
        self.ctx = Context(self)
        self._next_id = self._ids_end = 0
        self._history: dict[tuple[str, str], list[int]] | None = None
        self._messages: dict[str, list[int]] | None = None
        self._messages_since = 0
        self._new_messages: dict[str, list[int]] = {}
        # Groups read from the store (those that exist), and every id looked for.
        self._groups: dict[str, dict[str, Any]] = {}
        self._groups_read: set[str] = set()
        # Group sizes: as stored (every group, read once when a node first asks) plus this batch's moves.
        self._stored_sizes: dict[str, int] | None = None
        self._group_moves: dict[str, int] = {}
        self._shrinks = 0
        # Where the last scan of a pool stopped: pool id -> (pool, capacity, index, shrinks then).
        self._pool_scans: dict[int, tuple[Sequence[str], int, int, int]] = {}
        self._group_sets: dict[int, tuple[Sequence[str], frozenset[str]]] = {}
        self._event_waits: list[Run] = []
        self._last_time: tuple[int | None, Any, str] = (None, None, "")
        self._waiting: dict[tuple[str | None, str | None], list[Run]] = {}
        # The earliest wake time of a run this batch parked (a replay must not pass it).
        self.earliest_wake: int | None = None
        # Runs started by other runs in this batch: how many links led to them; and the length a run
        # started now would have (0 when an event or the clock starts it).
        self._chain: dict[int, int] = {}
        self._cause = 0
        # Quotas: past `message` deliveries per member as (flow, time), and recent deliveries by kind.
        self._sent: dict[str, list[tuple[str, int]]] = {}
        self._sent_since: int | None = None
        self._sent_extra: set[str] = set()
        self._recent: dict[str, tuple[int, list[tuple[int, dict[str, Any]]]]] = {}

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

    def apply_event(self, event: Event, member: Member | None, at: int) -> None:
        """Update the member from an event (DESIGN §5 "Order": before any trigger or resume)."""
        if event.group is not None:
            self.groups_seen.add(event.group)
        if member is None:
            return
        profile = event.profile
        if profile is not None:
            if profile.name is not None and profile.name != member.name:
                member.name = profile.name
                member.dirty = True
            if profile.channel is not None and profile.channel != member.channel:
                member.channel = profile.channel
                member.dirty = True
            for key, value in (profile.attributes or {}).items():
                member.set(f"attributes.{key}", value)
            if profile.tags:
                member.add_tags(profile.tags)
        if event.channel is not None and member.channel is None:
            member.channel = event.channel
            member.dirty = True
        kind = event.type
        if kind == "member_joined":
            if member.join_group(event.group):  # type: ignore[arg-type]
                self.group_changed(event.group, +1)  # type: ignore[arg-type]
        elif kind == "member_left":
            if member.leave_group(event.group):  # type: ignore[arg-type]
                self.group_changed(event.group, -1)  # type: ignore[arg-type]
        elif kind == "purchase":
            member.total_spend += float(event.data.get("amount", 0))
            member.order_count += 1
            member.dirty = True
        elif kind == "message":
            member.last_message_at = at
            member.dirty = True
            self._new_messages.setdefault(member.id, []).append(at)

    def message_count(self, member_id: str, since: int) -> int:
        if self._messages is None or since < self._messages_since:
            self._messages = self.store.message_times(self.conn, self.member_ids, since)
            self._messages_since = since
        now = self.now_us
        count = 0
        for at in self._messages.get(member_id, ()):
            if since <= at <= now:
                count += 1
        for at in self._new_messages.get(member_id, ()):
            if since <= at <= now:
                count += 1
        return count

    def group(self, group_id: str) -> dict[str, Any]:
        found = self._groups.get(group_id)
        if found is None:
            if group_id not in self._groups_read:
                # The groups the batch's events name come with the first one asked for.
                wanted = {group_id, *self.groups_seen} - self._groups_read
                self._groups.update(self.store.load_groups(self.conn, sorted(wanted)))
                self._groups_read |= wanted
            found = self._groups.get(group_id)
        return found if found is not None else {"id": group_id, "name": None, "tags": [], "kind": None}

    def group_size(self, group_id: str) -> int:
        return self._sizes_stored().get(group_id, 0) + self._group_moves.get(group_id, 0)

    def _sizes_stored(self) -> dict[str, int]:
        if self._stored_sizes is None:
            self._stored_sizes = self.store.group_sizes(self.conn)
        return self._stored_sizes

    def first_with_room(self, groups: Sequence[str], capacity: int) -> str | None:
        """The first of `groups` below `capacity`. Groups only fill up within a batch unless someone
        leaves, so a pool's scan resumes where the last one stopped until a group shrinks. Pools are
        known by identity (the entry keeps the pool alive, so its id cannot be taken by another)."""
        found = self._pool_scans.get(id(groups))
        start = 0
        if found is not None and found[0] is groups and found[1] == capacity and found[3] == self._shrinks:
            start = found[2]
        # group_size, inline: a scan may check many groups of a pool in a row.
        stored, moves = self._sizes_stored(), self._group_moves
        for index in range(start, len(groups)):
            group = groups[index]
            if stored.get(group, 0) + moves.get(group, 0) < capacity:
                self._pool_scans[id(groups)] = (groups, capacity, index, self._shrinks)
                return group
        self._pool_scans[id(groups)] = (groups, capacity, len(groups), self._shrinks)
        return None

    def group_set(self, groups: Sequence[str]) -> frozenset[str]:
        """`groups` as a set, made once a batch: a pool of hundreds of groups is checked for each
        member it is asked about. Known by identity, as in `first_with_room`."""
        found = self._group_sets.get(id(groups))
        if found is None or found[0] is not groups:
            found = self._group_sets[id(groups)] = (groups, frozenset(groups))
        return found[1]

    def group_changed(self, group_id: str, delta: int) -> None:
        """Every join and leave in a batch passes here, so sizes stay right before the batch is written."""
        self._group_moves[group_id] = self._group_moves.get(group_id, 0) + delta
        if delta < 0:
            self._shrinks += 1

    # -- quotas and audiences --------------------------------------------------------------------------

    def message_times(self, flow_id: str, member_ids: Iterable[str], since: int) -> dict[str, list[int]]:
        """Times of the `message` deliveries from a flow to each member at or after `since`, this
        batch's included. The batch's members are read in one query, the first time it is asked."""
        if self._sent_since is None or since < self._sent_since:
            self._sent = self.store.message_delivery_times(self.conn, self.member_ids, since)
            self._sent_since = since
            self._sent_extra = set()
        wanted = list(dict.fromkeys(member_ids))
        missing = [m for m in wanted if m not in self.members and m not in self._sent_extra]
        if missing:  # broadcast recipients outside the batch: one more query for all of them
            self._sent.update(self.store.message_delivery_times(self.conn, missing, self._sent_since))
            self._sent_extra.update(missing)
        found: dict[str, list[int]] = {}
        for member_id in wanted:
            times = [at for f, at in self._sent.get(member_id, ()) if f == flow_id and at >= since]
            found[member_id] = sorted(times)
        for at, flow, member_id, _ in self._made_by_kind().get("message", ()):
            if flow == flow_id and member_id in found:
                found[member_id].append(at)
        return found

    def recent_deliveries(self, kind: str, since: int) -> list[tuple[int, dict[str, Any]]]:
        """(time, payload) of every delivery of a kind at or after `since`, this batch's included."""
        cached = self._recent.get(kind)
        if cached is None or since < cached[0]:
            cached = self._recent[kind] = (since, self.store.deliveries_since(self.conn, kind, since))
        found = [(at, payload) for at, payload in cached[1] if at >= since]
        found += [(at, payload) for at, _, _, payload in self._made_by_kind().get(kind, ())]
        return found

    def audience(self, audience: Audience) -> list[Member]:
        """Every member in the audience now, in id order: the batch's own members as it has them
        (the store filters on what it holds, which this batch may have changed or not yet written),
        the others as stored."""
        now = self.now_us
        found = [m for m in self.members.values() if audience.matches(m, now)]
        after: str | None = ""
        while after is not None:
            page, after = self.store.audience_page(self.conn, audience, now, after, 1000)
            found += [m for m in page if m.id not in self.members]
        found.sort(key=lambda m: m.id)
        return found

    # -- runs ----------------------------------------------------------------------------------------

    def history(self) -> dict[tuple[str, str], list[int]]:
        if self._history is None:
            found = self.store.entry_history(self.conn, self.member_ids) if self.member_ids else {}
            self._history = {key: [live, last] for key, (live, last) in found.items()}
        return self._history

    def can_enter(self, plan: Plan, member: Member | None) -> bool:
        if self._cause > MAX_CHAIN:
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
            node.id,
            ACTIVE,
            now,
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

    def take(self, event: Event, seq: int) -> None:
        """One event, in the order of DESIGN §5: update the member, start runs through triggers,
        then resume the runs that were already waiting for it (never one the event just started)."""
        at = to_us(event.at)
        self.events.append(
            (
                seq,
                event.id,
                event.type,
                event.member,
                event.group,
                event.channel,
                at,
                _encode(event.data).decode() if event.data else None,
            )
        )
        view = event_view(event, seq, self._time_text(event.at, at))
        member = self.member(event.member, at) if event.member is not None else None
        self.apply_event(event, member, at)
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
        plan = self.flows.plan(run.flow_id, run.version)
        nodes = plan.nodes
        member = self.members.get(run.member_id) if run.member_id else None
        ctx = self.ctx
        counts = self.counts
        run.dirty = True
        run.status = ACTIVE
        run.wake_at = run.wait_event = None
        while True:
            node = nodes[run.node]
            if node.kind == "trigger":
                outcome: Any = _NEXT
            else:
                # Context._bind, inline: this runs for every step.
                ctx.plan, ctx.node, ctx.run, ctx.member, ctx.wake_event, ctx._made = (
                    plan,
                    node,
                    run,
                    member,
                    wake,
                    0,
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
                if not successors:
                    self._end(run, DONE)
                    return
                if len(successors) > 1:
                    for extra in successors[1:]:
                        self._fork(plan, run, extra)
                run.node = successors[0]
                run.entered_at = self.now_us
                counts[entered] += 1
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
                self._exit_journey(run)
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
            node_id,
            ACTIVE,
            self.now_us,
            run.started_at,
            event_seq=run.event_seq,
            vars=dict(run.vars) if run.vars else None,
            is_new=True,
        )
        fork.event = self.run_event(run)
        self.runs[fork_id] = fork
        if run.id in self._chain:
            self._chain[fork_id] = self._chain[run.id]
        if run.member_id is not None:
            self.history().setdefault((run.flow_id, run.member_id), [0, None])[0] += 1
        self.counts[plan.nodes[node_id].entered] += 1
        self.pending.append((fork, None))

    def _end(self, run: Run, status: str) -> None:
        run.status = status
        run.ended_at = self.now_us
        run.wake_at = run.wait_event = None
        if run.member_id is not None and self._history is not None:
            entry = self._history.get((run.flow_id, run.member_id))
            if entry is not None and entry[0] > 0:
                entry[0] -= 1

    def _exit_journey(self, run: Run) -> None:
        """`action.exit` ends the whole journey, forked branches included."""
        plan = self.flows.plan(run.flow_id, run.version)
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
    ) -> None:
        now = self.now_us
        self.deliveries.append(
            (
                self.next_id(),
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
            )
        )
        if self._made is not None:
            self._made.setdefault(kind, []).append((now, flow_id, member_id, payload))

    def _made_by_kind(self) -> dict[str, list[tuple[int, str, str | None, dict[str, Any]]]]:
        if self._made is None:
            self._made = {}
            for _, _, flow_id, _, _, member_id, kind, payload, at, *_ in self.deliveries:
                self._made.setdefault(kind, []).append((at, flow_id, member_id, _decode(payload)))
        return self._made

    def flush(self) -> None:
        store, conn = self.store, self.conn
        store.insert_events(conn, self.events)
        # Groups only seen in events exist from now on (those the batch read are known to exist).
        store.ensure_groups(conn, sorted(g for g in self.groups_seen if g not in self._groups))
        store.add_group_members(conn, group_deltas(self.members.values()), known=self.groups_seen)
        store.write_members(conn, self.members.values())
        store.write_runs(conn, self.runs.values())
        store.insert_deliveries(conn, self.deliveries)
        store.add_counts(conn, self.counts)


_NEXT = Go("next")
