"""The store's reads for people: counts, journeys, the outbox and member timelines (API, pages,
`simulate`'s report). A mixin of :class:`engine.store.Store`; none of it is on the engine's hot path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import Connection, case, func, select

from ..errors import NotFound
from ..member import Member
from ..run import Run
from . import schema as t
from .rows import event_from_row, run_from_row

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine as SAEngine

_decode = msgspec.json.decode


_d = t.deliveries.c
# A delivery as read: its columns, and the keys they go by.
_DELIVERY_FIELDS = (_d.id, _d.key, _d.at, _d.flow_id, _d.node, _d.run_id, _d.member_id, _d.kind, _d.payload)
_DELIVERY_FIELDS += (_d.status, _d.attempts, _d.error, _d.reason, _d.test)
_DELIVERY_KEYS = (
    "id",
    "key",
    "at",
    "flow",
    "node",
    "run",
    "member",
    "kind",
    "payload",
    "status",
    "attempts",
    "error",
    "reason",
    "test",
)

_RANKS = {"active": 4, "waiting": 3, "failed": 2, "exited": 1}
_BY_RANK = {0: "done", **{r: s for s, r in _RANKS.items()}}


def journey_status(statuses: set[str]) -> str:
    """A journey's status from its runs' statuses: live beats failed beats exited beats done."""
    for status in ("active", "waiting", "failed", "exited"):
        if status in statuses:
            return status
    return "done"


class ReportStore:
    engine: SAEngine

    if TYPE_CHECKING:

        def load_members(self, conn: Connection, ids: Iterable[str]) -> dict[str, Member]: ...

    def node_counts(self, flow_id: str | None = None) -> dict[str, dict[str, dict[str, int]]]:
        """{flow: {node: {counter: value}}}, over all of a flow's versions."""
        c = t.node_counts.c
        stmt = select(c.flow_id, c.node, c.counter, func.sum(c.value)).group_by(c.flow_id, c.node, c.counter)
        if flow_id is not None:
            stmt = stmt.where(c.flow_id == flow_id)
        found: dict[str, dict[str, dict[str, int]]] = {}
        with self.engine.connect() as conn:
            for flow, node, counter, value in conn.execute(stmt):
                found.setdefault(flow, {}).setdefault(node, {})[counter] = int(value)
        return found

    def version_node_counts(self, flow_id: str) -> dict[int, dict[str, dict[str, int]]]:
        """{version: {node: {counter: value}}} of one flow (version 0: counted before versions were
        kept apart)."""
        c = t.node_counts.c
        stmt = select(c.version, c.node, c.counter, c.value).where(c.flow_id == flow_id)
        found: dict[int, dict[str, dict[str, int]]] = {}
        with self.engine.connect() as conn:
            for version, node, counter, value in conn.execute(stmt):
                found.setdefault(version, {}).setdefault(node, {})[counter] = value
        return found

    def journey_statuses(self, flow_id: str | None = None) -> dict[str, dict[str, int]]:
        """{flow: {status: count}} over journeys (a forked journey counts once, with the status
        `journey_status` gives it), counted in the database."""
        c = t.runs.c
        # A journey's rank is its most telling branch: live beats failed beats exited beats done.
        rank = func.max(case(*((c.status == s, r) for s, r in _RANKS.items()), else_=0)).label("rank")
        journeys = select(c.flow_id, rank).group_by(c.flow_id, c.journey)
        if flow_id is not None:
            journeys = journeys.where(c.flow_id == flow_id)
        inner = journeys.subquery()
        stmt = select(inner.c.flow_id, inner.c.rank, func.count()).group_by(inner.c.flow_id, inner.c.rank)
        found: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for flow, rank_value, count in conn.execute(stmt):
                counts = found.setdefault(
                    flow, dict.fromkeys(("done", "waiting", "active", "exited", "failed"), 0)
                )
                counts[_BY_RANK[rank_value]] += count
        return found

    def waiting_by_node(self, flow_id: str) -> dict[str, int]:
        c = t.runs.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(c.node, func.count())
                .where(c.flow_id == flow_id, c.status == "waiting")
                .group_by(c.node)
            )
            return {node: n for node, n in rows}

    def waiting_by_version(self, flow_id: str) -> dict[int, dict[str, int]]:
        """{version: {node: runs waiting there now}} of one flow."""
        c = t.runs.c
        found: dict[int, dict[str, int]] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(c.version, c.node, func.count())
                .where(c.flow_id == flow_id, c.status == "waiting")
                .group_by(c.version, c.node)
            )
            for version, node, n in rows:
                found.setdefault(version, {})[node] = n
        return found

    def deliveries(self, limit: int | None = None, **where: Any) -> list[dict[str, Any]]:
        """Every delivery in report order (time, flow, node, member), filtered by column; with
        `limit`, only the first so many."""
        c = t.deliveries.c
        stmt = select(*_DELIVERY_FIELDS).order_by(c.at, c.flow_id, c.node, c.member_id, c.id)
        return self._deliveries(stmt if limit is None else stmt.limit(limit), where)

    def all_members(self) -> dict[str, Member]:
        with self.engine.connect() as conn:
            ids = list(conn.execute(select(t.members.c.id)).scalars())
            return self.load_members(conn, ids) if ids else {}

    def runs(
        self,
        flow_id: str | None = None,
        status: str | None = None,
        member_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Run]:
        c = t.runs.c
        stmt = select(t.runs).order_by(c.id.desc()).limit(limit).offset(offset)
        for column, value in (("flow_id", flow_id), ("status", status), ("member_id", member_id)):
            if value is not None:
                stmt = stmt.where(getattr(c, column) == value)
        with self.engine.connect() as conn:
            return [run_from_row(r) for r in conn.execute(stmt)]

    # -- reading back for the web app -----------------------------------------------------------------

    def get_member(self, member_id: str) -> Member:
        with self.engine.connect() as conn:
            found = self.load_members(conn, [member_id])
        if member_id not in found:
            raise NotFound(f"no member `{member_id}`")
        return found[member_id]

    def member_events(self, member_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The member's latest events, newest first (`at` in microseconds)."""
        c = t.events.c
        stmt = select(t.events).where(c.member_id == member_id)
        stmt = stmt.order_by(c.at.desc(), c.seq.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [event_from_row(r) for r in conn.execute(stmt)]

    def delivery_counts(self) -> dict[str, int]:
        """{flow: number of deliveries}, test sends (engine.test_send) aside."""
        c = t.deliveries.c
        stmt = select(c.flow_id, func.count()).where(t.not_test(c)).group_by(c.flow_id)
        with self.engine.connect() as conn:
            return dict(conn.execute(stmt).all())

    def delivery_page(self, limit: int = 50, offset: int = 0, **where: Any) -> list[dict[str, Any]]:
        """Deliveries newest first, filtered by column (`flow_id`, `member_id`, `kind`, `status`)."""
        c = t.deliveries.c
        stmt = select(*_DELIVERY_FIELDS).order_by(c.at.desc(), c.id.desc()).limit(limit).offset(offset)
        return self._deliveries(stmt, where)

    def _deliveries(self, stmt: Any, where: dict[str, Any]) -> list[dict[str, Any]]:
        c = t.deliveries.c
        for column, value in where.items():
            if value is not None:
                stmt = stmt.where(getattr(c, column) == value)
        # Plain tuples: a simulated month reports tens of thousands, and reading a row's attributes
        # by name would cost more than the rest of the work on it.
        with self.engine.connect() as conn:
            found = [dict(zip(_DELIVERY_KEYS, row, strict=True)) for row in conn.execute(stmt).tuples()]
        for delivery in found:
            delivery["payload"] = _decode(delivery["payload"])
            delivery["test"] = bool(delivery["test"])
        return found
