"""What a step sees: the run, its member, the time, and the few things a node may ask the engine for."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from .clock import from_us, to_us
from .event import DELIVERY_SETTLED
from .fields import render, resolve
from .flow import Settings
from .member import Member
from .run import Run
from .workdays import DayKind, day_allowed

if TYPE_CHECKING:
    from .audience import Audience
    from .community import Community, Made
    from .community_settings import CommunitySettings, TouchBudget
    from .compiler import Plan, PlanNode
    from .content import ContentItem
    from .flow_cache import FlowCache


class Stepping(Protocol):
    """What a context asks of the batch that steps it (`engine.batch.Batch`)."""

    community: Community
    now: datetime
    now_us: int

    def run_event(self, run: Run) -> dict[str, Any] | None: ...

    def made(self, kind: str) -> Made: ...

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
    ) -> None: ...

    def start_other_flow(self, flow_id: str, run: Run, member: Member | None) -> bool: ...

    touches: dict[str, list[int]]
    flows: FlowCache

    def community_settings(self) -> CommunitySettings: ...

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
    ) -> None: ...


class Scope(Mapping[str, Any]):
    """`member`, `event`, `run` and `group` as paths see them, computed on first use: rendering
    `{{ member.name }}` never loads the run's event or the groups."""

    __slots__ = ("_ctx", "_group", "_member")
    ROOTS = ("member", "event", "run", "group")

    def __init__(self, ctx: Context, group: str | None, member: Member | None) -> None:
        self._ctx, self._group, self._member = ctx, group, member

    def get(self, root: str, default: Any = None) -> Any:  # type: ignore[override]
        # Mapping.get goes through __getitem__ and an exception for a missing root; paths ask often.
        if root not in self.ROOTS:
            return default
        return self[root]

    def __getitem__(self, root: str) -> Any:
        ctx = self._ctx
        if root == "member":
            return self._member if self._member is not None else ctx.member
        if root == "event":
            return ctx.event
        if root == "run":
            run = ctx.run
            return {"vars": (run.vars or {}) if run else {}, "id": run.id if run else None}
        if root == "group":
            group_id = self._group or (ctx.event or {}).get("group")
            return ctx.group(group_id) if group_id else None
        raise KeyError(root)

    def __iter__(self) -> Iterator[str]:
        return iter(self.ROOTS)

    def __len__(self) -> int:
        return len(self.ROOTS)


class Context:
    """Handed to every step. Steps read and change state only through it; they do no I/O."""

    __slots__ = (
        "_batch",
        "_community",
        "_made",
        "member",
        "node",
        "now",
        "plan",
        "resumed",
        "run",
        "wake_event",
    )

    def __init__(self, batch: Stepping) -> None:
        self._batch = batch
        self._community = batch.community
        self.now: datetime = batch.now
        self.plan: Plan
        self.node: PlanNode
        self.run: Run | None = None
        self.member: Member | None = None
        # The event that woke a waiting step, if an event did.
        self.wake_event: dict[str, Any] | None = None
        # Whether the step is the run's first after it waited at this node until a time (the clock
        # woke it), rather than a run that has just reached the node.
        self.resumed = False
        self._made = 0

    def _bind(self, plan: Plan, node: PlanNode, run: Run | None, member: Member | None, wake: Any) -> None:
        self.plan, self.node, self.run, self.member, self.wake_event = plan, node, run, member, wake
        self._made = 0
        self.resumed = False

    # -- reading ----------------------------------------------------------------------------------

    @property
    def flow_id(self) -> str:
        return self.plan.flow.id

    @property
    def node_id(self) -> str:
        return self.node.id

    @property
    def tz(self) -> ZoneInfo:
        return self.plan.tz

    @property
    def settings(self) -> Settings:
        return self.plan.flow.settings

    def day_rule(self, on: DayKind) -> Callable[[date], bool] | None:
        """The rule a node's `on` setting puts on local dates under the flow's calendar (None: any)."""
        if on == "any":
            return None
        calendar = self.plan.flow.settings.calendar or self._batch.community_settings().calendar
        return lambda day: day_allowed(day, on, calendar)

    @property
    def priorities_differ(self) -> bool:
        """Whether flows of different priorities (DESIGN §18) may send messages at one moment."""
        return self._batch.flows.priorities_differ()

    @property
    def touch_budget(self) -> TouchBudget | None:
        """The community's cross-flow touch budget (DESIGN §18), None when there is none."""
        return self._batch.community_settings().touch_budget

    def touch_times(self, since: datetime, members: Sequence[str]) -> dict[str, list[datetime]]:
        """When each member was touched (a `message` made to the member, by any flow) since `since`,
        this batch's touches included; members are read at once, through the touch index."""
        found = self._community.touch_times(members, to_us(since), self._batch.touches)
        return {m: [from_us(at) for at in times] for m, times in found.items()}

    @property
    def entered_at(self) -> datetime:
        """When the run reached this node (durations count from here)."""
        run = self.run
        if run is None or run.entered_at == self._batch.now_us:
            return self.now
        return from_us(run.entered_at)

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.plan.tz)

    @property
    def event(self) -> dict[str, Any] | None:
        """The event being matched (triggers), that woke this step (waits), or that started or
        last resumed the run."""
        if self.wake_event is not None:
            return self.wake_event
        return self._batch.run_event(self.run) if self.run else None

    @property
    def vars(self) -> dict[str, Any]:
        assert self.run is not None
        if self.run.vars is None:
            self.run.vars = {}
        return self.run.vars

    def scope(self, group: str | None = None, member: Member | None = None) -> Mapping[str, Any]:
        """The roots field paths start from; each is looked up only when a path needs it."""
        return Scope(self, group, member)

    def group(self, group_id: str) -> dict[str, Any]:
        """A group's id, name, kind and tags (a group only seen in events has none)."""
        return self._community.group(group_id)

    def staff_limit(self, staff_id: str, default: int) -> int:
        """A staff account's daily friend-request limit: its own (DESIGN §15) or else `default`."""
        return self._community.staff_limit(staff_id, default)

    def content(self, item_id: str) -> ContentItem | None:
        """An item of the content library (话术库), or None when there is no such item."""
        return self._community.content(item_id)

    def get(self, path: str) -> Any:
        """The value at a field path (`member.points`, `event.data.amount`, `run.vars.x`)."""
        return resolve(path, self.scope())

    def render(self, template: str, group: str | None = None) -> str:
        return render(template, self.scope(group))

    def render_for(self, member: Member, template: str, group: str | None = None) -> str:
        """A template rendered for another member (a broadcast's recipient)."""
        return render(template, self.scope(group, member))

    def message_count(self, since: datetime) -> int:
        """How many `message` events the member posted in [since, now]."""
        if self.member is None:
            return 0
        return self._community.message_count(self.member.id, to_us(since), self._batch.now_us)

    def message_times(self, since: datetime, members: list[str] | None = None) -> dict[str, list[datetime]]:
        """When this flow's `message` deliveries went to each member (default: the run's) since `since`."""
        ids = members if members is not None else ([self.member.id] if self.member else [])
        found = self._community.message_times(self.flow_id, ids, to_us(since), self._batch.made("message"))
        return {m: [from_us(at) for at in sorted(times)] for m, times in found.items()}

    def recent_deliveries(self, kind: str, since: datetime) -> list[tuple[datetime, dict[str, Any]]]:
        """(time, payload) of every delivery of a kind, from any flow, since `since`."""
        found = self._community.recent_deliveries(kind, to_us(since), self._batch.made(kind))
        return [(from_us(at), payload) for at, payload in found]

    def audience(self, audience: Audience) -> list[Member]:
        """The members in an audience now, in id order, all at once (for a large audience, walk it
        with :meth:`audience_page`)."""
        return self._community.audience(audience, self._batch.now_us)

    def audience_page(
        self, audience: Audience, after: str = "", limit: int = 1000
    ) -> tuple[list[Member], str | None]:
        """The members in an audience now with ids after `after`, in id order, at most `limit` of
        them; and the `after` of the next page, or None when the audience has been walked."""
        return self._community.audience_page(audience, self._batch.now_us, after, limit)

    def group_size(self, group: str) -> int:
        """How many members the store knows in the group, this batch's changes included."""
        return self._community.group_size(group)

    def first_group_with_room(self, groups: Sequence[str], capacity: int) -> str | None:
        """The first group of a pool with fewer than `capacity` members, or None when all are full."""
        return self._community.first_with_room(groups, capacity)

    def in_any_group(self, groups: Sequence[str]) -> bool:
        """Whether the member is in any of `groups`."""
        member = self.member
        if member is None or not member.groups:
            return False
        return not self._community.group_set(groups).isdisjoint(member.groups)

    def join_group(self, group: str) -> None:
        """Put the member in a group (an invitation taken as accepted)."""
        if self.member is not None and self.member.join_group(group):
            self._community.group_changed(group, +1)

    def leave_group(self, group: str) -> None:
        """Take the member out of a group."""
        if self.member is not None and self.member.leave_group(group):
            self._community.group_changed(group, -1)

    def blacklist(self) -> None:
        """Blacklist the member: never invited to a group or sent a friend request again."""
        member = self.member
        if member is not None and not member.blacklisted:
            member.blacklisted = True
            member.dirty = True

    def fraction(self, *parts: str) -> float:
        """A stable number in [0, 1) for these parts: the same parts always give the same number."""
        digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    # -- asking the engine ---------------------------------------------------------------------------

    def deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        member: str | None = None,
        key: str | None = None,
        once: bool = False,
        wait: bool = False,
    ) -> None:
        """Record an effect on the outside world; it is sent after the step's batch commits.

        `key` names the effect among the node's effects for this run (a broadcast's recipient), so a
        step that is called again after a wait does not repeat or lose one. `once`: at most one such
        effect per journey and node, even where forked branches meet again at the node. `wait`: the
        step will wait to hear how it settles (DESIGN §19): it returns `WaitFor(DELIVERY_SETTLED)`, and
        is called again with :attr:`settlement` once the delivery is sent, failed or skipped."""
        run, node_id = self.run, self.node.id
        assert run is not None
        if once:
            key = f"{run.journey}:{node_id}:once"
        elif key is not None:
            key = f"{run.id}:{node_id}:{key}"
        elif self._made:
            key = f"{run.id}:{node_id}:{self._made}"
        else:
            key = f"{run.id}:{node_id}"
        self._made += 1
        if member is None and self.member is not None:
            member = self.member.id
        if wait:
            self._batch.deliver(run.flow_id, node_id, run.id, member, kind, payload, key, wait=True)
        else:
            self._batch.deliver(run.flow_id, node_id, run.id, member, kind, payload, key)

    @property
    def settlement(self) -> dict[str, Any] | None:
        """How the delivery this node waits for settled, when that is what woke the step: `status`
        (`sent`, `failed`, `skipped`, `cancelled`, or `recorded` when nothing left the server),
        `reason`, `error`, `kind`, `delivery` (its id). None for anything else."""
        woke, run = self.wake_event, self.run
        if woke is None or run is None or woke.get("type") != DELIVERY_SETTLED:
            return None
        data = woke.get("data") or {}
        if data.get("run") != run.id or data.get("node") != self.node.id:
            return None
        return data

    def skip_delivery(
        self,
        kind: str,
        payload: dict[str, Any],
        reason: str,
        member: str | None = None,
        key: str | None = None,
    ) -> None:
        """Record an effect that is not made (status `skipped`, with `reason`, such as `budget`), so
        that the member's timeline and the reports say so. Keys as :meth:`deliver`'s."""
        run, node_id = self.run, self.node.id
        assert run is not None
        key = f"{run.id}:{node_id}:{key}" if key is not None else f"{run.id}:{node_id}"
        if member is None and self.member is not None:
            member = self.member.id
        self._batch.skip(run.flow_id, node_id, run.id, member, kind, payload, key, reason)

    def start_flow(self, flow_id: str) -> bool:
        """Start the run's member on another live flow; False when it is not live or re-entry forbids."""
        assert self.run is not None
        return self._batch.start_other_flow(flow_id, self.run, self.member)

    def set_var(self, key: str, value: Any) -> None:
        self.vars[key] = value
