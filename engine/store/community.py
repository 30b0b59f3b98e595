"""The store's reads and writes for community operations: cron state, audiences, quotas, group sizes.

A mixin of :class:`engine.store.Store`; every method that takes `conn` is a piece of a step batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import Connection, and_, cast, exists, func, literal, or_, select, true, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement

from ..audience import Audience
from ..member import Member
from ..run import LIVE
from . import schema as t
from .driver import DriverStore
from .protocol import Entering, ScheduleKey

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine as SAEngine

_decode = msgspec.json.decode


class CommunityStore(DriverStore):
    engine: SAEngine
    dialect: str
    _insert: Any

    if TYPE_CHECKING:

        def load_members(self, conn: Connection, ids: Iterable[str]) -> dict[str, Member]: ...

        def ensure_groups(self, conn: Connection, ids: Sequence[str]) -> None: ...

    # -- scheduled triggers ------------------------------------------------------------------------

    def schedule_states(self, conn: Connection) -> dict[ScheduleKey, dict[str, Any]]:
        """Every scheduled trigger's stored state, by (flow, node)."""
        return {(r["flow_id"], r["node"]): dict(r) for r in conn.execute(select(t.schedule_fires)).mappings()}

    def put_schedule(self, conn: Connection, flow_id: str, node: str, values: Mapping[str, Any]) -> None:
        """Create or update one scheduled trigger's state."""
        stmt = self._insert(t.schedule_fires).values(flow_id=flow_id, node=node, **values)
        conn.execute(stmt.on_conflict_do_update(index_elements=["flow_id", "node"], set_=dict(values)))

    def update_schedule(self, conn: Connection, flow_id: str, node: str, values: Mapping[str, Any]) -> None:
        c = t.schedule_fires.c
        conn.execute(update(t.schedule_fires).where(c.flow_id == flow_id, c.node == node).values(**values))

    def claim_schedule(
        self, conn: Connection, keys: Iterable[ScheduleKey], now: int
    ) -> dict[str, Any] | None:
        """The scheduled trigger to fire (or go on firing) first, locked for this transaction."""
        wanted = set(keys)
        if not wanted:
            return None
        c = t.schedule_fires.c
        due = func.coalesce(c.firing, c.next_fire)
        stmt = (
            select(t.schedule_fires)
            .where(c.flow_id.in_(sorted({f for f, _ in wanted})), due <= now)
            .order_by(due, c.flow_id, c.node)
        )
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        for row in conn.execute(stmt).mappings():
            if (row["flow_id"], row["node"]) in wanted:
                return dict(row)
        return None

    # -- audiences ---------------------------------------------------------------------------------

    def audience_page(
        self,
        conn: Connection,
        audience: Audience,
        now: int,
        after: str,
        limit: int,
        entering: Entering | None = None,
    ) -> tuple[list[Member], str | None]:
        """Members after id `after` (in id order) that are in the audience, from the next `limit`
        candidates; and the id to go on after, or None when no member is left. With `entering`,
        candidates are only members its flow's re-entry rule lets in now."""
        c = t.members.c
        stmt = select(c.id).where(c.id > after, *self._audience_filters(audience, now))
        if entering is not None:
            stmt = stmt.where(~self._kept_out(entering, now))
        ids = list(conn.execute(stmt.order_by(c.id).limit(limit)).scalars())
        members = self.load_members(conn, ids)
        matched = [members[i] for i in ids if audience.matches(members[i], now)]
        return matched, (ids[-1] if len(ids) == limit else None)

    def _audience_filters(self, audience: Audience, now: int) -> list[ColumnElement[bool]]:
        """The audience as SQL, so that the members loaded are about those it takes (`matches`, on
        the loaded members, has the last word)."""
        c = t.members.c
        found: list[ColumnElement[bool]] = []
        if audience.grades is not None:
            found.append(c.grade.in_(audience.grades))
        if audience.stages is not None:
            found.append(c.stage.in_(audience.stages))
        if audience.min_spend is not None:
            found.append(c.total_spend >= audience.min_spend)
        if audience.max_spend is not None:
            found.append(c.total_spend <= audience.max_spend)
        cutoff = audience.inactive_since(now)
        if cutoff is not None:
            found.append(
                or_(and_(c.last_message_at.is_(None), c.first_seen <= cutoff), c.last_message_at <= cutoff)
            )
        if audience.tags_all is not None:
            found.append(self._holds_all(c.tags, audience.tags_all))
        if audience.tags_any is not None:
            found.append(self._holds_any(c.tags, audience.tags_any))
        if audience.tags_none is not None:
            found.append(~self._holds_any(c.tags, audience.tags_none))
        if audience.groups is not None:
            found.append(self._holds_any(c.groups, audience.groups))
        return found

    def _holds_any(self, column: Any, labels: Sequence[str]) -> ColumnElement[bool]:
        """Whether a JSON list column (NULL: empty) holds one of `labels`."""
        if self.dialect == "postgresql":
            return func.jsonb_exists_any(_jsonb(column), postgresql.array(labels))
        items = func.json_each(column).table_valued("value")
        return exists(select(literal(1)).select_from(items).where(items.c.value.in_(labels)))

    def _holds_all(self, column: Any, labels: Sequence[str]) -> ColumnElement[bool]:
        """Whether a JSON list column (NULL: empty) holds every one of `labels`."""
        if self.dialect == "postgresql":
            return func.jsonb_exists_all(_jsonb(column), postgresql.array(labels))
        items = func.json_each(column).table_valued("value")
        held = select(func.count(items.c.value.distinct())).where(items.c.value.in_(labels))
        return held.scalar_subquery() == len(set(labels))

    @staticmethod
    def _kept_out(entering: Entering, now: int) -> ColumnElement[bool]:
        """Whether a member has a run of the flow that keeps them from entering it again now: a live
        one, or one started within the re-entry interval (any, if the flow is entered once)."""
        flow_id, reentry = entering
        r = t.runs.c
        blocking = true() if reentry is None else or_(r.status.in_(LIVE), r.started_at > now - reentry)
        return exists(select(literal(1)).where(r.flow_id == flow_id, r.member_id == t.members.c.id, blocking))

    # -- quotas ------------------------------------------------------------------------------------

    def message_delivery_times(
        self, conn: Connection, member_ids: Sequence[str], since: int
    ) -> dict[str, list[tuple[str, int]]]:
        """(flow, time) of each member's `message` deliveries at or after `since`."""
        found: dict[str, list[tuple[str, int]]] = {}
        if not member_ids:
            return found
        # Read by member, each through the member index, whatever the planner makes of the table. Given
        # `kind = 'message' AND at >= since`, SQLite reads through the (kind, at) index every message
        # of the window; PostgreSQL, judging 2,000 index probes dearer than one pass, reads the whole
        # table (a table that grows by a broadcast's deliveries is also one it has no statistics
        # for). Either way each page of a broadcast read every delivery so far: quadratic in the
        # audience. The kind is therefore tested here, and on PostgreSQL each member is looked up
        # on its own (a lateral join is a nested loop, whose inner side is an index probe).
        if self.dialect == "postgresql":
            sql = (
                "SELECT m.id, d.flow_id, d.at, d.kind, d.status, d.test FROM unnest(%s::text[]) AS m(id) "
                "CROSS JOIN LATERAL (SELECT flow_id, at, kind, status, test FROM deliveries "
                "WHERE member_id = m.id AND at >= %s) AS d"
            )
            rows: Iterable[tuple[Any, ...]] = self._select(conn, sql, (list(member_ids), since))
        else:
            c = t.deliveries.c
            rows = conn.execute(
                select(c.member_id, c.flow_id, c.at, c.kind, c.status, c.test).where(
                    c.member_id.in_(member_ids), c.at >= since
                )
            )
        for member_id, flow_id, at, kind, status, test in rows:
            # A message skipped for the touch budget was never made, and a test send (engine.test_send)
            # is the operator's own trial: no cap counts either.
            if kind == "message" and status != "skipped" and not test:
                found.setdefault(member_id, []).append((flow_id, at))
        return found

    def deliveries_since(self, conn: Connection, kind: str, since: int) -> list[tuple[int, dict[str, Any]]]:
        """(time, payload) of every delivery of one kind at or after `since` (small by construction:
        used for daily limits)."""
        c = t.deliveries.c
        rows = conn.execute(select(c.at, c.payload).where(c.kind == kind, c.at >= since).order_by(c.at))
        return [(at, _decode(payload)) for at, payload in rows]

    # -- group sizes -------------------------------------------------------------------------------

    def add_group_members(
        self, conn: Connection, deltas: Mapping[str, int], known: Set[str] = frozenset()
    ) -> None:
        """Move the kept member counts of groups by `deltas` (members that joined minus those that left);
        groups not `known` to exist are created first."""
        changed = [(d, g) for g, d in sorted(deltas.items()) if d]
        if not changed:
            return
        self.ensure_groups(conn, [g for _, g in changed if g not in known])
        mark = self._mark
        sql = f"UPDATE groups SET member_count = member_count + {mark} WHERE id = {mark}"
        self._executemany(conn, sql, changed)


def _jsonb(column: Any) -> Any:
    return cast(func.coalesce(column, "[]"), postgresql.JSONB)
