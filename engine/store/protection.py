"""The store's part of protecting the member (DESIGN §18): community settings, the touch ledger,
deliveries skipped for a reason, and approval of published versions.

A mixin of :class:`engine.store.Store`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import Connection, delete, func, insert, select, update

from ..errors import Conflict, NotFound
from . import schema as t
from .driver import DriverStore
from .rows import DELIVERY_COLUMNS

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine as SAEngine

_encode = msgspec.json.encode
SETTINGS_VERSION = "community_settings"  # the row of `sequences` counting changes of the settings
# A version's approval status (flow_versions.status); older rows without one were published at once.
PUBLISHED, PENDING, APPROVED, REJECTED = "published", "pending_approval", "approved", "rejected"
# Deliveries skipped by the engine: the columns of a row, in order.
SKIPPED_COLUMNS = (*DELIVERY_COLUMNS, "reason")


class ProtectionStore(DriverStore):
    engine: SAEngine
    dialect: str

    # -- community settings ---------------------------------------------------------------------------

    def settings_version(self, conn: Connection) -> int:
        """A number that changes whenever the community settings change."""
        c = t.sequences.c
        return conn.execute(select(c.value).where(c.name == SETTINGS_VERSION)).scalar() or 0

    def settings_rows(self, conn: Connection) -> dict[str, str]:
        """The stored settings: field name → JSON text."""
        c = t.community_settings.c
        return {name: value for name, value in conn.execute(select(c.name, c.value))}

    def put_settings(self, rows: Mapping[str, str], now: int, by: str | None = None) -> None:
        """Replace the stored settings with `rows` (field name → JSON text) and bump their version."""
        with self.transaction() as conn:  # type: ignore[attr-defined]
            conn.execute(delete(t.community_settings))
            if rows:
                conn.execute(
                    insert(t.community_settings),
                    [{"name": k, "value": v, "updated_at": now, "updated_by": by} for k, v in rows.items()],
                )
            c = t.sequences.c
            bumped = conn.execute(
                update(t.sequences).where(c.name == SETTINGS_VERSION).values(value=c.value + 1)
            ).rowcount
            if not bumped:
                conn.execute(insert(t.sequences).values(name=SETTINGS_VERSION, value=1))

    def community_settings(self) -> dict[str, Any]:
        """The stored community settings as plain JSON values, by field (absent fields left out)."""
        with self.engine.connect() as conn:
            return {k: msgspec.json.decode(v) for k, v in self.settings_rows(conn).items()}

    # -- the touch ledger ---------------------------------------------------------------------------

    def touch_times(self, conn: Connection, member_ids: Sequence[str], since: int) -> dict[str, list[int]]:
        """Times of each member's touches (`message` deliveries made to the member, DESIGN §18) at
        or after `since`, in order, read through the touch index, one query for all the members."""
        found: dict[str, list[int]] = {}
        if not member_ids:
            return found
        if self.dialect == "postgresql":
            # As in message_delivery_times: one index probe per member, whatever the statistics say.
            sql = (
                "SELECT m.id, d.at FROM unnest(%s::text[]) AS m(id) CROSS JOIN LATERAL "
                "(SELECT at FROM deliveries WHERE member_id = m.id AND at >= %s AND touch) AS d"
            )
            rows: Iterable[tuple[Any, ...]] = self._select(conn, sql, (list(member_ids), since))
        else:
            c = t.deliveries.c
            rows = conn.execute(
                select(c.member_id, c.at).where(c.member_id.in_(member_ids), c.at >= since, c.touch)
            )
        for member_id, at in rows:
            found.setdefault(member_id, []).append(at)
        for times in found.values():
            times.sort()
        return found

    def insert_skipped(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        """Deliveries the engine did not make (status `skipped`): rows in the order of
        `SKIPPED_COLUMNS`; a key already stored is not written again."""
        self._bulk(conn, "deliveries", SKIPPED_COLUMNS, rows, " ON CONFLICT (key) DO NOTHING")

    # -- approval of versions -----------------------------------------------------------------------

    def version_history(self, flow_id: str) -> list[dict[str, Any]]:
        """Every version of a flow with its approval record, oldest first."""
        c = t.flow_versions.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    c.version,
                    c.published_at,
                    c.status,
                    c.requested_by,
                    c.decided_by,
                    c.decided_at,
                    c.reason,
                    c.reach,
                )  # fmt: skip
                .where(c.flow_id == flow_id)
                .order_by(c.version)
            ).mappings()
            return [{**r, "status": r["status"] or PUBLISHED} for r in rows]

    def pending_approvals(self) -> list[dict[str, Any]]:
        """Versions waiting for an admin's decision, oldest request first: flow, name, version, who
        asked, when, and the reach estimated then."""
        v, f = t.flow_versions.c, t.flows.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(v.flow_id, f.name, v.version, v.requested_by, v.published_at, v.reach)
                .join(t.flows, f.id == v.flow_id)
                .where(v.status == PENDING)
                .order_by(v.published_at, v.flow_id)
            ).mappings()
            return [dict(r) for r in rows]

    def request_version(self, flow_id: str, document: dict[str, Any], now: int, by: str, reach: int) -> int:
        """Freeze `document` as the flow's next version, waiting for approval (not live); an earlier
        request still waiting is withdrawn (rejected, reason `superseded`): one decision at a time."""
        v = t.flow_versions.c
        with self.transaction() as conn:  # type: ignore[attr-defined]
            if not conn.execute(select(t.flows.c.id).where(t.flows.c.id == flow_id)).first():
                raise NotFound(f"no flow `{flow_id}`")
            conn.execute(
                update(t.flow_versions)
                .where(v.flow_id == flow_id, v.status == PENDING)
                .values(status=REJECTED, decided_by=by, decided_at=now, reason="superseded")
            )
            current = conn.execute(select(func.max(v.version)).where(v.flow_id == flow_id)).scalar()
            version = (current or 0) + 1
            conn.execute(
                insert(t.flow_versions).values(
                    flow_id=flow_id,
                    version=version,
                    document=_encode(document).decode(),
                    published_at=now,
                    status=PENDING,
                    requested_by=by,
                    reach=reach,
                )
            )
        return version

    def pending_version(self, flow_id: str) -> dict[str, Any]:
        """The flow's version waiting for approval: {version, requested_by, published_at, reach};
        a Conflict when none waits."""
        v = t.flow_versions.c
        with self.engine.connect() as conn:
            if not conn.execute(select(t.flows.c.id).where(t.flows.c.id == flow_id)).first():
                raise NotFound(f"no flow `{flow_id}`")
            row = (
                conn.execute(
                    select(v.version, v.requested_by, v.published_at, v.reach).where(
                        v.flow_id == flow_id, v.status == PENDING
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise Conflict(f"flow `{flow_id}` has no version waiting for approval (没有待审批的版本)")
        return dict(row)

    def decide_version(
        self, flow_id: str, version: int, approved: bool, now: int, by: str, reason: str | None = None
    ) -> None:
        """Record an admin's decision on a waiting version; an approved one goes live. A Conflict when
        the version no longer waits (decided meanwhile)."""
        v = t.flow_versions.c
        with self.transaction() as conn:  # type: ignore[attr-defined]
            done = conn.execute(
                update(t.flow_versions)
                .where(v.flow_id == flow_id, v.version == version, v.status == PENDING)
                .values(
                    status=APPROVED if approved else REJECTED, decided_by=by, decided_at=now, reason=reason
                )
            ).rowcount
            if not done:
                raise Conflict(f"version {version} of flow `{flow_id}` no longer waits for approval")
            if approved:
                conn.execute(update(t.flows).where(t.flows.c.id == flow_id).values(live_version=version))

    def mark_published(
        self, flow_id: str, version: int, by: str | None, reach: int | None, now: int = 0
    ) -> None:
        """Say who published a version that went live at once (and the reach estimated, if any); a
        request still waiting for an older version is withdrawn (rejected, reason `superseded`)."""
        v = t.flow_versions.c
        with self.transaction() as conn:  # type: ignore[attr-defined]
            conn.execute(
                update(t.flow_versions)
                .where(v.flow_id == flow_id, v.status == PENDING, v.version < version)
                .values(status=REJECTED, decided_by=by, decided_at=now, reason="superseded")
            )
            conn.execute(
                update(t.flow_versions)
                .where(v.flow_id == flow_id, v.version == version)
                .values(status=PUBLISHED, requested_by=by, reach=reach)
            )


__all__ = ["APPROVED", "PENDING", "PUBLISHED", "REJECTED", "SKIPPED_COLUMNS", "ProtectionStore"]
