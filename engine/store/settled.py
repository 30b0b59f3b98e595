"""The queue of settled deliveries that runs wait for (DESIGN §19): read and emptied by the engine
(:mod:`engine.settlements`) in its own batches.

A step that waits for its delivery writes it with `notify = 'waiting'`; the statement that gives the
delivery its final status (`settle_deliveries`, `confirm_deliveries`, `cancel_delivery`) turns that
into `due`, atomically with the status. The engine takes the `due` ones in the order they settled
(a partial index holds only them, so an empty queue costs one index probe), resumes their runs and
marks them `told` in the same transaction: each settlement is acted on once, whichever process
takes it, and one that no process has taken yet survives any restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import select, update

from . import schema as t
from .leases import NOTIFY_DUE, NOTIFY_TOLD

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.engine import Engine as SAEngine

    from ..run import Run


class SettledDelivery(msgspec.Struct, frozen=True):
    """A settled delivery that a run waits to hear of."""

    id: int
    flow: str
    node: str
    run: int | None
    member: str | None
    kind: str
    status: str
    settled_at: int
    reason: str | None = None
    error: str | None = None
    payload: str = "{}"  # JSON text


class SettleStore:
    """Queue methods of :class:`engine.store.Store`."""

    if TYPE_CHECKING:
        dialect: str
        engine: SAEngine

        def for_update(self, stmt: Any, skip_locked: bool = False) -> Any: ...

    def any_settled(self) -> bool:
        """Whether a settled delivery waits to be told, read without a write lock (on SQLite a writer
        runs alone: an idle worker round must not take the lock just to find nothing)."""
        c = t.deliveries.c
        with self.engine.connect() as conn:
            return conn.execute(select(c.id).where(c.notify == NOTIFY_DUE).limit(1)).first() is not None

    def claim_settled(self, conn: Connection, limit: int) -> list[SettledDelivery]:
        """Up to `limit` settled deliveries whose runs are still to be told, in the order they
        settled, locked (other processes skip them) until the transaction ends."""
        c = t.deliveries.c
        stmt = (
            select(
                c.id,
                c.flow_id,
                c.node,
                c.run_id,
                c.member_id,
                c.kind,
                c.status,
                c.settled_at,
                c.reason,
                c.error,
                c.payload,
            )  # fmt: skip
            .where(c.notify == NOTIFY_DUE)
            .order_by(c.settled_at, c.id)
            .limit(limit)
        )
        return [
            SettledDelivery(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7] or 0, r[8], r[9], r[10])
            for r in conn.execute(self.for_update(stmt, skip_locked=True)).tuples()
        ]

    def mark_told(self, conn: Connection, ids: Sequence[int]) -> None:
        """The runs of these settled deliveries have been told (in the transaction that told them)."""
        if ids:
            c = t.deliveries.c
            conn.execute(
                update(t.deliveries)
                .where(c.id.in_(list(ids)), c.notify == NOTIFY_DUE)
                .values(notify=NOTIFY_TOLD)
            )

    def runs_by_id(self, conn: Connection, ids: Sequence[int]) -> list[Run]:
        """The runs of `ids` that exist, by id, locked."""
        from .rows import run_from_row

        if not ids:
            return []
        stmt = select(t.runs).where(t.runs.c.id.in_(sorted(set(ids)))).order_by(t.runs.c.id)
        return [run_from_row(r) for r in conn.execute(self.for_update(stmt))]


__all__ = ["SettleStore", "SettledDelivery"]
