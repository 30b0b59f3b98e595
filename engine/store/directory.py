"""The community data operators keep by hand (DESIGN §15): groups, as listed, registered and removed.

A mixin of :class:`engine.store.Store`. Registering is all or nothing: a list of groups is written in
one transaction. A group's member count is the engine's (kept as members join and leave) and is
never taken from a registration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, select

from ..errors import Conflict, NotFound
from ..member import GroupRecord
from . import schema as t
from .rows import from_json, to_json

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine as SAEngine
    from sqlalchemy.sql.elements import ColumnElement

# The columns a registration sets; `member_count` is the engine's.
GROUP_FIELDS = ("name", "kind", "tags", "capacity", "owner")
CHUNK = 1000


def group_row(record: GroupRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "kind": record.kind,
        "tags": to_json(list(dict.fromkeys(record.tags))),
        "capacity": record.capacity,
        "owner": record.owner,
    }


def group_from_row(row: Any) -> dict[str, Any]:
    """A stored group as the API and pages show it."""
    return {
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "tags": from_json(row.tags, []),
        "capacity": row.capacity,
        "owner": row.owner,
        "members": row.member_count,
    }


class DirectoryStore:
    engine: SAEngine
    _insert: Any

    if TYPE_CHECKING:

        def transaction(self) -> Any: ...

        def _holds_any(self, column: Any, labels: Sequence[str]) -> ColumnElement[bool]: ...

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
            needle = q.lower()
            stmt = stmt.where(
                func.lower(c.id).contains(needle, autoescape=True)
                | func.lower(func.coalesce(c.name, "")).contains(needle, autoescape=True)
            )
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

    def group_capacities(self, conn: Connection) -> dict[str, int]:
        """The groups that have a capacity of their own, with it."""
        c = t.groups.c
        return dict(conn.execute(select(c.id, c.capacity).where(c.capacity.is_not(None))).tuples().all())
