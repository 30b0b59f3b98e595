"""The WeCom sync (DESIGN §20): the corp's staff, customers, customer groups and corp tags into the
store (§15's community data), and the tag library out to the corp.

| from WeCom | into the store |
| --- | --- |
| `user/list_id` + `user/simplelist` | staff (id, name) |
| `externalcontact/list` per staff + `batch/get_by_user` | members: name, owner (`member.staff`), tags |
| `groupchat/list` + `groupchat/get` | groups: name, owner; their customers as the group's members |
| `get_corp_tag_list` | the tag library gains every corp tag; tags the corp lacks are made (`qunflow`) |

A group the store knew before the sync is compared with WeCom's member list: whoever joined or left
without a callback reaching us gets a `member_joined` / `member_left` event (`data.recovered: true`),
ingested through the engine like a callback, so flows see it. The event ids come from (group, member,
the sync's hour), so a sync run again — by this process or another — does not make them twice. A
group new to the store is imported as it is: its members are not "joining" now.

A member's tags: those that name corp tags follow WeCom (the customer's corp tags, by name); tags
the corp does not have stay as they are.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import select

from ...clock import to_us
from ...event import Event
from ...member import GroupRecord, Member, StaffRecord, TagRecord
from ...store import schema as t
from ...store.rows import from_json
from .client import WecomApi
from .corp_tags import CorpTags

log = logging.getLogger("qunflow.connectors.wecom")

Ingest = Callable[[Sequence[Event]], Any]
STAFF, CUSTOMER = 1, 2  # `member_list[].type` in groupchat/get


class SyncResult(msgspec.Struct):
    """What one sync did, counted by kind."""

    staff: int = 0
    members: int = 0
    groups: int = 0
    tags_in: int = 0  # corp tags added to the tag library
    tags_out: int = 0  # library tags made as corp tags
    joined: int = 0  # recovered `member_joined` events
    left: int = 0  # recovered `member_left` events

    def lines(self) -> list[str]:
        """One line per kind of thing synced (the CLI prints them; the button shows them)."""
        return [
            f"staff: {self.staff} (员工)",
            f"members: {self.members} (客户)",
            f"groups: {self.groups} (客户群)",
            f"tags: {self.tags_in} from WeCom, {self.tags_out} to WeCom (标签库)",
            f"recovered events: {self.joined} member_joined, {self.left} member_left (补回的入群/退群)",
        ]


class Seen:
    """What WeCom says of one customer: their name, each staff member who has them as a customer
    (since when, and the corp tags that staff member gave them), and groups to put them in."""

    __slots__ = ("follows", "groups", "name")

    def __init__(self) -> None:
        self.name: str | None = None
        self.follows: list[tuple[int, str, list[str]]] = []
        self.groups: list[str] = []

    def apply(self, member: Member, corp_names: set[str]) -> None:
        """Name, owner (the first staff account they added, unless theirs is still one of them),
        tags (those naming corp tags follow WeCom; the others stay) and groups."""
        if self.name:
            member.name = self.name
        owners = [staff for _, staff, _ in sorted(self.follows) if staff]
        if owners and member.staff not in owners:
            member.staff = owners[0]
        if self.follows:
            wecom_tags = [tag for _, _, tags in self.follows for tag in tags]
            kept = [tag for tag in member.tags if tag not in corp_names]
            member.tags = list(dict.fromkeys([*kept, *wecom_tags]))
        for group in self.groups:
            member.join_group(group)


class WecomSync:
    """One corp's data into one store. `ingest` takes the recovered events (the engine's ingest)."""

    def __init__(self, api: WecomApi, store: Any, ingest: Ingest, corp_tags: CorpTags | None = None) -> None:
        self.api = api
        self.store = store
        self.ingest = ingest
        self.corp_tags = corp_tags or CorpTags(api)
        self._now_us = 0

    def run(self, now: datetime) -> SyncResult:
        """Sync everything: tags, staff, customers, groups (with recovered joins and leaves)."""
        result = SyncResult()
        self._now_us = to_us(now)
        names = self.sync_tags(result)
        staff = self._staff(result)
        seen = self._customers(staff, names)
        self._groups(self.api.group_chat_ids(), seen, set(names.values()), now, result)
        return result

    # -- tags ---------------------------------------------------------------------------------------

    def sync_tags(self, result: SyncResult | None = None) -> dict[str, str]:
        """The tag library both ways; returns every corp tag, id → name."""
        result = result if result is not None else SyncResult()
        library = {r.name for r in self.store.list_tags(limit=100_000)}
        ids = self.corp_tags.all()
        made = self.corp_tags.ids(sorted(library - ids.keys()), make_missing=True)
        result.tags_out = len(made)
        new = sorted(ids.keys() - library)
        self.store.put_tags([TagRecord(name) for name in new])
        result.tags_in = len(new)
        return {tag_id: name for name, tag_id in {**ids, **made}.items()}

    # -- staff and customers -------------------------------------------------------------------------

    def _staff(self, result: SyncResult) -> list[str]:
        ids = self.api.list_user_ids()
        names = self.api.staff_names()
        known = {r.id: r for r in self.store.list_staff_by_id(ids)}
        limits = {i: r.daily_friend_limit for i, r in known.items()}
        records = [StaffRecord(i, names.get(i) or i, limits.get(i)) for i in ids]
        self.store.put_staff(records)
        result.staff = len(records)
        return ids

    def _customers(self, staff: list[str], tag_names: dict[str, str]) -> dict[str, Seen]:
        """What WeCom says of each customer of `staff`."""
        seen: dict[str, Seen] = {}
        for userid in staff:
            for customer in self.api.customers_of(userid):
                seen.setdefault(customer, Seen())
        for entry in self.api.customer_details(staff):
            contact, follow = entry.get("external_contact") or {}, entry.get("follow_info") or {}
            customer = str(contact.get("external_userid") or "")
            if not customer:
                continue
            found = seen.setdefault(customer, Seen())
            if contact.get("name"):
                found.name = str(contact["name"])
            tags = [tag_names[i] for i in follow.get("tag_id") or [] if i in tag_names]
            found.follows.append((int(follow.get("createtime") or 0), str(follow.get("userid") or ""), tags))
        return seen

    def _write_members(self, seen: dict[str, Seen], corp_names: set[str]) -> int:
        """Apply what WeCom says to the members as stored now (loaded just before writing, so the
        engine's changes meanwhile are kept); returns how many."""
        with self.store.engine.connect() as conn:
            found = self.store.load_members(conn, list(seen))
        members = [found.get(i) or Member(i, first_seen=self._now_us, is_new=True) for i in seen]
        for member in members:
            seen[member.id].apply(member, corp_names)
        self.store.put_members(members)
        return len(members)

    # -- groups -------------------------------------------------------------------------------------

    def _groups(
        self,
        chat_ids: list[str],
        seen: dict[str, Seen],
        corp_names: set[str],
        now: datetime,
        result: SyncResult,
    ) -> None:
        chats = {c: self.api.group_chat(c) for c in chat_ids}
        stored = self._stored_groups(chat_ids)
        customers = {c: _customers_in(chat) for c, chat in chats.items()}
        events = [
            event
            for c, chat in chats.items()
            if c in stored
            for event in self.recovered(c, customers[c], chat.get("member_list") or [], now)
        ]
        # A group new to the store is taken as it is: its members are in it, nobody "joins" now.
        for chat_id in (c for c in chats if c not in stored):
            for customer in customers[chat_id]:
                seen.setdefault(customer, Seen()).groups.append(chat_id)
        records = [_group_record(chat, stored.get(c)) for c, chat in chats.items()]
        self.store.put_groups(records)
        result.members = self._write_members(seen, corp_names)
        if events:
            self.ingest(events)
        result.groups = len(records)
        result.joined = sum(e.type == "member_joined" for e in events)
        result.left = sum(e.type == "member_left" for e in events)

    def _stored_groups(self, ids: list[str]) -> dict[str, GroupRecord]:
        """The groups `ids` the store has, as registered (their tags, kind and capacity are kept)."""
        c = t.groups.c
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(c.id, c.tags, c.kind, c.capacity).where(c.id.in_(ids))).all()
        return {r.id: GroupRecord(r.id, None, from_json(r.tags, []), r.kind, r.capacity) for r in rows}

    def recovered(
        self, chat_id: str, customers: list[str], member_list: list[dict[str, Any]], now: datetime
    ) -> list[Event]:
        """The joins and leaves of a known group that the store has not seen, as events."""
        c = t.members.c
        with self.store.engine.connect() as conn:
            held = set(
                conn.execute(select(c.id).where(self.store._holds_any(c.groups, [chat_id]))).scalars().all()
            )
        scenes = {str(m["userid"]): m.get("join_scene") for m in member_list}
        hour = now.replace(minute=0, second=0, microsecond=0)
        events = []
        for member in customers:
            if member not in held:
                data: dict[str, Any] = {"recovered": True}
                if scenes.get(member) is not None:
                    data["join_scene"] = scenes[member]
                events.append(_event("member_joined", chat_id, member, hour, now, data))
        for member in sorted(held - set(customers)):
            events.append(_event("member_left", chat_id, member, hour, now, {"recovered": True}))
        return events

    def sync_group(self, chat_id: str, now: datetime) -> SyncResult:
        """One group (after a `create` callback, or a change): its name, owner and members."""
        result = SyncResult()
        self._now_us = to_us(now)
        self._groups([chat_id], {}, set(), now, result)
        return result


def _customers_in(chat: dict[str, Any]) -> list[str]:
    return [str(m["userid"]) for m in chat.get("member_list") or [] if m.get("type") == CUSTOMER]


def _group_record(chat: dict[str, Any], stored: GroupRecord | None) -> GroupRecord:
    """The group as WeCom names and owns it, with what an operator registered kept."""
    name = str(chat.get("name") or "")[:200] or None
    owner = str(chat["owner"]) if chat.get("owner") else None
    if stored is None:
        return GroupRecord(str(chat["chat_id"]), name=name, owner=owner)
    return msgspec.structs.replace(stored, name=name, owner=owner)


def _event(kind: str, group: str, member: str, hour: datetime, now: datetime, data: dict[str, Any]) -> Event:
    digest = hashlib.blake2b(f"{kind}\x1f{group}\x1f{member}\x1f{hour.isoformat()}".encode(), digest_size=12)
    return Event(f"wecom-sync-{digest.hexdigest()}", kind, now, member=member, group=group, data=data)


SYNC_EVERY = timedelta(hours=1)
DUE = "wecom_sync_due"  # the row of `sequences` holding when the next hourly sync is due (µs)


def claim_hourly(store: Any, now: datetime) -> bool:
    """Whether this process runs the hourly sync now: it is due, and this process moved the due
    time an hour on before any other did (one atomic update of a leased row, so on PostgreSQL with
    several workers only one syncs). The first is due an hour after a process first asks: the
    first import is a person's (同步, `qunflow wecom sync`), not a side effect of starting."""
    from sqlalchemy import update

    c = t.sequences.c
    at, next_at = to_us(now), to_us(now + SYNC_EVERY)
    with store.transaction() as conn:
        due = conn.execute(select(c.value).where(c.name == DUE)).scalar()
        if due is None:
            stmt = store._insert(t.sequences).values(name=DUE, value=next_at)
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
            return False
        if due > at:
            return False
        moved = update(t.sequences).where(c.name == DUE, c.value == due).values(value=next_at)
        return bool(conn.execute(moved).rowcount)


__all__ = ["DUE", "SYNC_EVERY", "SyncResult", "WecomSync", "claim_hourly"]
