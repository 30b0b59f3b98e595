"""The community data operators keep by hand (DESIGN §15): groups, the content library, staff and the
tag library, as listed, registered and removed.

A mixin of :class:`engine.store.Store`. Registering is all or nothing: a list of groups is written in
one transaction. A group's member count is the engine's (kept as members join and leave) and is
never taken from a registration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import Connection, delete, func, or_, select, update

from ..clock import from_us
from ..content import ContentItem
from ..errors import Conflict, NotFound
from ..member import GroupRecord, Member, StaffRecord, TagRecord
from . import schema as t
from .rows import from_json, to_json

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine as SAEngine
    from sqlalchemy.sql.elements import ColumnElement

# The columns a registration sets; `member_count` is the engine's.
GROUP_FIELDS = ("name", "kind", "tags", "capacity", "owner")
CHUNK = 1000
_encode = msgspec.json.encode
_decode = msgspec.json.decode


def group_row(record: GroupRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "kind": record.kind,
        "tags": to_json(list(dict.fromkeys(record.tags))),
        "capacity": record.capacity,
        "owner": record.owner,
    }


def group_from_row(row: Any) -> dict[str, Any]:
    """A stored group as the API and pages show it; `dismissed_at` only once WeCom said so."""
    group = {
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "tags": from_json(row.tags, []),
        "capacity": row.capacity,
        "owner": row.owner,
        "members": row.member_count,
    }
    if row.dismissed_at is not None:
        group["dismissed_at"] = from_us(row.dismissed_at)
    return group


class DirectoryStore:
    engine: SAEngine
    dialect: str
    _insert: Any

    if TYPE_CHECKING:

        def transaction(self) -> Any: ...

        def _holds_any(self, column: Any, labels: Sequence[str]) -> ColumnElement[bool]: ...

        def load_members(self, conn: Connection, ids: Any) -> dict[str, Member]: ...

    def put_groups(self, records: Sequence[GroupRecord], done: Callable[[int], None] | None = None) -> None:
        """Create or update groups, all in one transaction: every one of them or none. A group given
        twice is taken as its last record says. `done` hears how many are written, chunk by chunk."""
        latest = {r.id: r for r in records}
        rows = [{"id": group_id, **group_row(r)} for group_id, r in latest.items()]
        if not rows:
            return
        stmt = self._insert(t.groups)
        stmt = stmt.on_conflict_do_update(
            index_elements=["id"], set_={c: stmt.excluded[c] for c in GROUP_FIELDS}
        )
        with self.transaction() as conn:
            for start in range(0, len(rows), CHUNK):
                chunk = rows[start : start + CHUNK]
                conn.execute(stmt, chunk)
                if done is not None:
                    done(len(chunk))

    def get_group(self, group_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.groups).where(t.groups.c.id == group_id)).first()
        if row is None:
            raise NotFound(f"no group `{group_id}` (没有这个群)")
        return group_from_row(row)

    def group_names(self, ids: Iterable[str] | None = None, limit: int = 1000) -> dict[str, str]:
        """The names of the groups `ids` (or of the first `limit` groups by name), those that have
        one: what pages show instead of a group's id."""
        c = t.groups.c
        stmt = select(c.id, c.name).where(c.name.is_not(None), c.name != "")
        if ids is not None:
            wanted = sorted(set(ids))
            if not wanted:
                return {}
            stmt = stmt.where(c.id.in_(wanted))
        else:
            stmt = stmt.order_by(c.name, c.id).limit(limit)
        with self.engine.connect() as conn:
            return dict(conn.execute(stmt).tuples().all())

    def list_groups(
        self,
        q: str | None = None,
        tag: str | None = None,
        kind: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Groups in id order; `q` finds a part of the id or the name (any case)."""
        c = t.groups.c
        stmt = select(t.groups)
        if q:
            stmt = stmt.where(self._finds(c.id, q) | self._finds(c.name, q))
        if tag:
            stmt = stmt.where(self._holds_any(c.tags, [tag]))
        if kind:
            stmt = stmt.where(c.kind == kind)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.order_by(c.id).limit(limit).offset(offset)).all()
        return [group_from_row(r) for r in rows]

    def delete_group(self, group_id: str) -> None:
        """Forget a group. One that members are in is kept (409): its member count is the engine's,
        and the members would name a group that no longer exists."""
        with self.transaction() as conn:
            found = conn.execute(select(t.groups.c.member_count).where(t.groups.c.id == group_id)).first()
            if found is None:
                raise NotFound(f"no group `{group_id}` (没有这个群)")
            if found[0]:
                raise Conflict(
                    f"group `{group_id}` has {found[0]} members; it can be removed once it is empty "
                    "(群里还有成员，不能删除)"
                )
            conn.execute(delete(t.groups).where(t.groups.c.id == group_id))

    def mark_group_dismissed(self, group_id: str, at: int) -> None:
        """Record that the group was dismissed at `at` (µs), registering it if the store did not know
        it; the first moment told is kept, so a retried callback changes nothing."""
        c = t.groups.c
        with self.transaction() as conn:
            conn.execute(self._insert(t.groups).values(id=group_id).on_conflict_do_nothing())
            conn.execute(
                update(t.groups).where(c.id == group_id, c.dismissed_at.is_(None)).values(dismissed_at=at)
            )

    def group_capacities(self, conn: Connection) -> dict[str, int]:
        """The groups that have a capacity of their own, with it."""
        c = t.groups.c
        return dict(conn.execute(select(c.id, c.capacity).where(c.capacity.is_not(None))).tuples().all())

    # -- members, searched -------------------------------------------------------------------------

    def member_page(
        self,
        q: str | None = None,
        *,
        tag: str | None = None,
        group: str | None = None,
        grade: str | None = None,
        stage: str | None = None,
        channel: str | None = None,
        blacklisted: bool | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Member]:
        """Members in id order that match: `q` a part of the id or name (any case), the others exactly
        (`tag`, `group`: the member has it)."""
        c = t.members.c
        stmt = select(c.id)
        if q:
            stmt = stmt.where(self._finds(c.id, q) | self._finds(c.name, q))
        for column, value in ((c.grade, grade), (c.stage, stage), (c.channel, channel)):
            if value:
                stmt = stmt.where(column == value)
        if blacklisted is not None:
            stmt = stmt.where(c.blacklisted.is_(blacklisted))
        if tag:
            stmt = stmt.where(self._holds_any(c.tags, [tag]))
        if group:
            stmt = stmt.where(self._holds_any(c.groups, [group]))
        with self.engine.connect() as conn:
            ids = list(conn.execute(stmt.order_by(c.id).limit(limit).offset(offset)).scalars())
            found = self.load_members(conn, ids)
        return [found[i] for i in ids]

    def members_named(self, name: str, limit: int = 50) -> list[Member]:
        """Members in id order whose whole name is `name`, any case (as the database lowers it)."""
        c = t.members.c
        stmt = select(c.id).where(func.lower(c.name) == func.lower(name))
        with self.engine.connect() as conn:
            ids = list(conn.execute(stmt.order_by(c.id).limit(limit)).scalars())
            found = self.load_members(conn, ids)
        return [found[i] for i in ids]

    # -- the content library -----------------------------------------------------------------------

    def put_content(
        self, items: Sequence[ContentItem], now: int, done: Callable[[int], None] | None = None
    ) -> None:
        """Create or replace content items, all in one transaction: every one of them or none."""
        latest = {item.id: item for item in items}
        rows = [
            {"id": i.id, "title": i.title, "kind": i.kind, "item": _encode(i).decode(), "updated_at": now}
            for i in latest.values()
        ]
        if not rows:
            return
        stmt = self._insert(t.content)
        stmt = stmt.on_conflict_do_update(
            index_elements=["id"], set_={c: stmt.excluded[c] for c in ("title", "kind", "item", "updated_at")}
        )
        with self.transaction() as conn:
            for start in range(0, len(rows), CHUNK):
                conn.execute(stmt, rows[start : start + CHUNK])
                if done is not None:
                    done(len(rows[start : start + CHUNK]))

    def get_content(self, item_id: str) -> ContentItem:
        with self.engine.connect() as conn:
            found = self.load_content(conn, [item_id])
        if item_id not in found:
            raise NotFound(f"no content item `{item_id}` (话术库中没有这一条)")
        return found[item_id]

    def load_content(self, conn: Connection, ids: Sequence[str] | None = None) -> dict[str, ContentItem]:
        """The items of `ids` that exist (default: the whole library), by id."""
        c = t.content.c
        stmt = select(c.id, c.item)
        if ids is not None:
            stmt = stmt.where(c.id.in_(list(ids)))
        return {row.id: _decode(row.item, type=ContentItem) for row in conn.execute(stmt)}

    def content_index(self) -> dict[str, ContentItem]:
        """The whole library (what nodes may name), by id."""
        with self.engine.connect() as conn:
            return self.load_content(conn)

    def list_content(
        self, q: str | None = None, kind: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[ContentItem]:
        """Items in id order; `q` finds a part of the id, title or text (any case)."""
        c = t.content.c
        stmt = select(c.item)
        if q:
            stmt = stmt.where(self._finds(c.id, q) | self._finds(c.title, q) | self._finds(c.item, q))
        if kind:
            stmt = stmt.where(c.kind == kind)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.order_by(c.id).limit(limit).offset(offset)).scalars().all()
        return [_decode(row, type=ContentItem) for row in rows]

    def flows_using_content(self, conn: Connection, item_id: str) -> list[str]:
        """The published flows (live or paused) whose live version names the item."""
        f, v = t.flows.c, t.flow_versions.c
        rows = conn.execute(
            select(f.id, v.document)
            .join(t.flow_versions, (v.flow_id == f.id) & (v.version == f.live_version))
            .order_by(f.id)
        )
        using = []
        for flow_id, document in rows:
            nodes = _decode(document).get("nodes") or []
            if any(isinstance(n, dict) and (n.get("config") or {}).get("content") == item_id for n in nodes):
                using.append(flow_id)
        return using

    def delete_content(self, item_id: str) -> None:
        """Remove an item; refused (409, naming them) while a published flow sends it."""
        with self.transaction() as conn:
            using = self.flows_using_content(conn, item_id)
            if using:
                raise Conflict(
                    f"content item `{item_id}` is used by the published flows {', '.join(using)} "
                    "(已发布的流程正在使用，不能删除)"
                )
            if not conn.execute(delete(t.content).where(t.content.c.id == item_id)).rowcount:
                raise NotFound(f"no content item `{item_id}` (话术库中没有这一条)")

    # -- staff and the tag library ---------------------------------------------------------------------

    def put_staff(self, records: Sequence[StaffRecord], done: Callable[[int], None] | None = None) -> None:
        """Create or replace staff accounts, all in one transaction."""
        self._put_records(t.staff, "id", [msgspec.to_builtins(r) | {"id": r.id} for r in records], done)

    def list_staff(self, q: str | None = None, limit: int = 50, offset: int = 0) -> list[StaffRecord]:
        """Staff in id order; `q` finds a part of the id or name (any case)."""
        rows = self._list_records(t.staff, "id", ("id", "name"), q, {}, limit, offset)
        return [StaffRecord(r.id, r.name, r.daily_friend_limit) for r in rows]

    def get_staff(self, staff_id: str) -> StaffRecord:
        found = self.list_staff_by_id([staff_id])
        if not found:
            raise NotFound(f"no staff member `{staff_id}` (没有这位员工)")
        return found[0]

    def list_staff_by_id(self, ids: Sequence[str]) -> list[StaffRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.staff).where(t.staff.c.id.in_(list(ids))).order_by(t.staff.c.id))
            return [StaffRecord(r.id, r.name, r.daily_friend_limit) for r in rows]

    def staff_limits(self, conn: Connection) -> dict[str, int]:
        """The staff accounts that have a daily friend-request limit of their own, with it."""
        c = t.staff.c
        rows = conn.execute(select(c.id, c.daily_friend_limit).where(c.daily_friend_limit.is_not(None)))
        return dict(rows.tuples().all())

    def delete_staff(self, staff_id: str) -> None:
        self._delete_record(t.staff, "id", staff_id, f"no staff member `{staff_id}` (没有这位员工)")

    def put_tags(self, records: Sequence[TagRecord], done: Callable[[int], None] | None = None) -> None:
        """Create or replace tags of the library, all in one transaction."""
        self._put_records(t.tags, "name", [msgspec.to_builtins(r) | {"name": r.name} for r in records], done)

    def list_tags(
        self, q: str | None = None, category: str | None = None, limit: int = 500, offset: int = 0
    ) -> list[TagRecord]:
        """Tags in name order; `q` finds a part of the name (any case)."""
        filters = {"category": category} if category else {}
        rows = self._list_records(t.tags, "name", ("name",), q, filters, limit, offset)
        return [TagRecord(r.name, r.category, r.color) for r in rows]

    def delete_tag(self, name: str) -> None:
        """Remove a tag from the library (members keep it: a tag is a member's, the library describes it)."""
        self._delete_record(t.tags, "name", name, f"no tag `{name}` in the tag library (标签库中没有)")

    def _put_records(
        self, table: Any, key: str, rows: list[dict[str, Any]], done: Callable[[int], None] | None
    ) -> None:
        latest = list({row[key]: {c.name: row.get(c.name) for c in table.c} for row in rows}.values())
        if not latest:
            return
        stmt = self._insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[key], set_={c.name: stmt.excluded[c.name] for c in table.c if c.name != key}
        )
        with self.transaction() as conn:
            for start in range(0, len(latest), CHUNK):
                conn.execute(stmt, latest[start : start + CHUNK])
                if done is not None:
                    done(len(latest[start : start + CHUNK]))

    def _list_records(
        self,
        table: Any,
        key: str,
        searched: Sequence[str],
        q: str | None,
        filters: dict[str, Any],
        limit: int,
        offset: int,
    ) -> list[Any]:
        stmt = select(table)
        if q:
            stmt = stmt.where(or_(*(self._finds(table.c[name], q) for name in searched)))
        for name, value in filters.items():
            stmt = stmt.where(table.c[name] == value)
        with self.engine.connect() as conn:
            return list(conn.execute(stmt.order_by(table.c[key]).limit(limit).offset(offset)))

    def _finds(self, column: Any, q: str) -> ColumnElement[bool]:
        """Whether a text column holds `q` (`%` and `_` are characters), any case. SQLite's LIKE
        ignores ASCII case by itself; leaving `lower()` out makes a scan of a million members about
        three times faster there."""
        if self.dialect == "postgresql":
            return column.icontains(q, autoescape=True)
        return column.contains(q, autoescape=True)

    def _delete_record(self, table: Any, key: str, value: str, missing: str) -> None:
        with self.transaction() as conn:
            if not conn.execute(delete(table).where(table.c[key] == value)).rowcount:
                raise NotFound(missing)
