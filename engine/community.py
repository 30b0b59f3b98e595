"""What a step batch sees of the community around its members: what an event changes on its member
(the rules of DESIGN §5 "Order"), groups and their sizes, the messages members posted, the
deliveries that quotas count, and audiences.

Everything is read from the store on first need, once a batch, and kept up to date with the batch's
own changes, so that steps see the community as it will be once the batch is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .edits import EDITED, apply_edit
from .event import Event
from .limits import MAX_COUNT, MAX_MONEY
from .member import Member
from .rollup import GROUP, Tally, local_day

if TYPE_CHECKING:
    from .audience import Audience
    from .content import ContentItem
    from .store.protocol import BatchStore, Tx

# This batch's deliveries of one kind, as (time, flow, member, payload).
Made = Sequence[tuple[int, str, str | None, dict[str, Any]]]


class Community:
    def __init__(
        self, store: BatchStore, conn: Tx, members: dict[str, Member], member_ids: list[str]
    ) -> None:
        self.store = store
        self.conn = conn
        # The daily rollups this batch moves (engine.rollup): groups' joins, leaves and messages.
        self.tally = Tally()
        # The batch's members as it holds them, by id (it adds those its events bring), and the ids
        # it was made for, in order.
        self.members = members
        self.member_ids = member_ids
        # Groups named by the batch's events; groups read from the store (those that exist), and
        # every id looked for.
        self.groups_seen: set[str] = set()
        self.groups: dict[str, dict[str, Any]] = {}
        self._groups_read: set[str] = set()
        # Group sizes: as stored (every group, read once when a node first asks) plus this batch's moves.
        self._stored_sizes: dict[str, int] | None = None
        # Groups with a capacity of their own (DESIGN §15), read with the sizes.
        self._capacities: dict[str, int] = {}
        self._group_moves: dict[str, int] = {}
        self._shrinks = 0
        # Where the last scan of a pool stopped: pool id -> (pool, capacity, index, shrinks then).
        self._pool_scans: dict[int, tuple[Sequence[str], int, int, int]] = {}
        self._group_sets: dict[int, tuple[Sequence[str], frozenset[str]]] = {}
        # Times of the members' `message` events: as stored since `_messages_since`, and this batch's.
        self._messages: dict[str, list[int]] | None = None
        self._messages_since = 0
        self._new_messages: dict[str, list[int]] = {}
        # Quotas: past `message` deliveries per member as (flow, time), and recent deliveries by kind.
        self._sent: dict[str, list[tuple[str, int]]] = {}
        self._sent_since: int | None = None
        self._sent_extra: set[str] = set()
        self._recent: dict[str, tuple[int, list[tuple[int, dict[str, Any]]]]] = {}
        # The touch budget: each member's stored touches since `_touched_since`, read once a batch.
        self._touched: dict[str, list[int]] = {}
        self._touched_since: int | None = None
        self._touched_read: set[str] = set()
        # Content items the batch's nodes send, read once each.
        self._content: dict[str, ContentItem | None] = {}
        # Staff accounts' own daily friend-request limits, read on first need.
        self._staff_limits: dict[str, int] | None = None

    # -- events ------------------------------------------------------------------------------------

    def apply_event(self, event: Event, member: Member | None, at: int) -> None:
        """Update the member from an event (DESIGN §5 "Order"): its profile, its channel (the first
        one seen), its groups (`member_joined`, `member_left`), its spend and order count
        (`purchase`), its last activity (`message`), its owner staff member and whether it is still
        a contact (`contact_added`, `contact_deleted`); groups' joins, leaves and messages go to the
        rollups. The batch calls this before any trigger fires or any waiting run resumes on the
        event, so both see the member as the event left it."""
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
                self.tally.add(GROUP, event.group, local_day(at), "joins")  # type: ignore[arg-type]
        elif kind == "member_left":
            if member.leave_group(event.group):  # type: ignore[arg-type]
                self.group_changed(event.group, -1)  # type: ignore[arg-type]
                self.tally.add(GROUP, event.group, local_day(at), "leaves")  # type: ignore[arg-type]
        elif kind == "purchase":
            # Bounded so that no number of purchases overflows the columns (engine.limits).
            member.total_spend = min(MAX_MONEY, member.total_spend + float(event.data.get("amount", 0)))
            member.order_count = min(MAX_COUNT, member.order_count + 1)
            member.dirty = True
        elif kind == "message":
            member.last_message_at = at
            member.dirty = True
            self.posted(member.id, at)
            if event.group is not None:
                self.tally.add(GROUP, event.group, local_day(at), "messages")
        elif kind == "contact_added":
            # The staff account the member added owns them (DESIGN §20) and sends to them later; a
            # member who adds a second account keeps the first owner while that friendship lasts.
            staff = event.data.get("staff")
            if isinstance(staff, str) and staff and member.staff is None:
                member.staff = staff
                member.dirty = True
            if member.contact_lost_at is not None:  # a contact again
                member.contact_lost_at = None
                member.dirty = True
        elif kind == "contact_deleted":
            # No longer friends: the owner can send nothing more, so the member has none.
            if member.staff is not None and event.data.get("staff") == member.staff:
                member.staff = None
                member.dirty = True
            if member.contact_lost_at is None:
                member.contact_lost_at = at
                member.dirty = True
        elif kind == EDITED:  # a person's change (DESIGN §15); only the web app makes these
            apply_edit(member, event.data)

    # -- messages ------------------------------------------------------------------------------------

    def posted(self, member_id: str, at: int) -> None:
        """A member posted a message (an event of this batch)."""
        self._new_messages.setdefault(member_id, []).append(at)

    def message_count(self, member_id: str, since: int, now: int) -> int:
        """How many `message` events the member posted in [since, now]."""
        if self._messages is None or since < self._messages_since:
            self._messages = self.store.message_times(self.conn, self.member_ids, since)
            self._messages_since = since
        count = 0
        for at in self._messages.get(member_id, ()):
            if since <= at <= now:
                count += 1
        for at in self._new_messages.get(member_id, ()):
            if since <= at <= now:
                count += 1
        return count

    # -- groups --------------------------------------------------------------------------------------

    def group(self, group_id: str) -> dict[str, Any]:
        found = self.groups.get(group_id)
        if found is None:
            if group_id not in self._groups_read:
                # The groups the batch's events name come with the first one asked for.
                wanted = {group_id, *self.groups_seen} - self._groups_read
                self.groups.update(self.store.load_groups(self.conn, sorted(wanted)))
                self._groups_read |= wanted
            found = self.groups.get(group_id)
        if found is None:
            return {"id": group_id, "name": None, "tags": [], "kind": None, "capacity": None, "owner": None}
        return found

    def group_size(self, group_id: str) -> int:
        return self._sizes_stored().get(group_id, 0) + self._group_moves.get(group_id, 0)

    def _sizes_stored(self) -> dict[str, int]:
        if self._stored_sizes is None:
            self._stored_sizes = self.store.group_sizes(self.conn)
            self._capacities = self.store.group_capacities(self.conn)
        return self._stored_sizes

    def first_with_room(self, groups: Sequence[str], capacity: int) -> str | None:
        """The first of `groups` below its capacity: the group's own when it has one, else `capacity`
        (the node's). Groups only fill up within a batch unless someone
        leaves, so a pool's scan resumes where the last one stopped until a group shrinks. Pools are
        known by identity (the entry keeps the pool alive, so its id cannot be taken by another)."""
        found = self._pool_scans.get(id(groups))
        start = 0
        if found is not None and found[0] is groups and found[1] == capacity and found[3] == self._shrinks:
            start = found[2]
        # group_size, inline: a scan may check many groups of a pool in a row.
        stored, moves = self._sizes_stored(), self._group_moves
        own = self._capacities
        for index in range(start, len(groups)):
            group = groups[index]
            if stored.get(group, 0) + moves.get(group, 0) < (own.get(group, capacity) if own else capacity):
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

    # -- content -----------------------------------------------------------------------------------

    def content(self, item_id: str) -> ContentItem | None:
        """A content item of the library, or None when there is no such item (any more)."""
        if item_id not in self._content:
            self._content[item_id] = self.store.load_content(self.conn, [item_id]).get(item_id)
        return self._content[item_id]

    def staff_limit(self, staff_id: str, default: int) -> int:
        """A staff account's daily friend-request limit: its own when it has one, else `default`."""
        if self._staff_limits is None:
            self._staff_limits = self.store.staff_limits(self.conn)
        return self._staff_limits.get(staff_id, default)

    # -- quotas and audiences --------------------------------------------------------------------------

    def message_times(
        self, flow_id: str, member_ids: Iterable[str], since: int, made: Made
    ) -> dict[str, list[int]]:
        """Times of the `message` deliveries from a flow to each member at or after `since`, this
        batch's (`made`) included. The batch's members are read in one query, the first time it is
        asked."""
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
        for at, flow, member_id, _ in made:
            if flow == flow_id and member_id in found:
                found[member_id].append(at)
        return found

    def touch_times(
        self, member_ids: Iterable[str], since: int, made: Mapping[str, list[int]]
    ) -> dict[str, list[int]]:
        """Times of each member's touches (member-addressed `message` deliveries, from every flow) at
        or after `since`, sorted, this batch's (`made`, by member) included. The batch's members are
        read in one query the first time it is asked; members outside it (a broadcast's) in one more
        per call."""
        if self._touched_since is None or since < self._touched_since:
            self._touched = self.store.touch_times(self.conn, self.member_ids, since)
            self._touched_since = since
            self._touched_read = set(self.member_ids)
        wanted = list(dict.fromkeys(member_ids))
        missing = [m for m in wanted if m not in self._touched_read]
        if missing:
            self._touched.update(self.store.touch_times(self.conn, missing, self._touched_since))
            self._touched_read.update(missing)
        found: dict[str, list[int]] = {}
        stored = self._touched
        for member_id in wanted:
            times = [at for at in stored.get(member_id, ()) if at >= since]
            extra = made.get(member_id)
            if extra:
                times += [at for at in extra if at >= since]
                times.sort()
            found[member_id] = times
        return found

    def recent_deliveries(self, kind: str, since: int, made: Made) -> list[tuple[int, dict[str, Any]]]:
        """(time, payload) of every delivery of a kind at or after `since`, this batch's (`made`)
        included."""
        cached = self._recent.get(kind)
        if cached is None or since < cached[0]:
            cached = self._recent[kind] = (since, self.store.deliveries_since(self.conn, kind, since))
        found = [(at, payload) for at, payload in cached[1] if at >= since]
        found += [(at, payload) for at, _, _, payload in made]
        return found

    def audience(self, audience: Audience, now: int) -> list[Member]:
        """Every member in the audience now, in id order (see :meth:`audience_page`). Holds the
        whole audience in memory: a broadcast walks it page by page instead."""
        found: list[Member] = []
        after: str | None = ""
        while after is not None:
            page, after = self.audience_page(audience, now, after, 1000)
            found += page
        return found

    def audience_page(
        self, audience: Audience, now: int, after: str, limit: int
    ) -> tuple[list[Member], str | None]:
        """The members in the audience now with ids after `after`, in id order, from the store's next
        `limit` candidates; and the id to go on after, or None when no member is left. The batch's
        own members in that range are taken as it has them (the store filters on what it holds,
        which this batch may have changed or not yet written), the others as stored."""
        page, cursor = self.store.audience_page(self.conn, audience, now, after, limit)
        found = {m.id: m for m in page if m.id not in self.members}
        for m in self.members.values():
            if m.id > after and (cursor is None or m.id <= cursor) and audience.matches(m, now):
                found[m.id] = m
        return [found[i] for i in sorted(found)], cursor
