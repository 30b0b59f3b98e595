"""Staff tasks (issue #15): the deliveries a staff member carries out by hand — a follow-up task, a
friend request to send, a removal from a group — and how they were closed.

Such a delivery is written with its `staff` (the staff id it names, the group owner for a removal,
`''` when no one is named) and stays open until a `task_completed` event for its member, flow and node
(or for it alone, with `data.delivery`) closes it `done` or `skipped`, in the batch that takes the
event (DESIGN §6).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import bindparam, select, update

from ..errors import NotFound
from . import schema as t
from .leases import CANCELLED, SKIPPED

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.engine import Engine as SAEngine

# Delivery kinds that are work for a staff member (DESIGN §20: app messages linking to the task page).
TASK_KINDS = ("task", "friend_request", "remove")
TASK_OUTCOMES = ("done", "skipped")
# What the inbox lists: `open` tasks, those closed `done` or `skipped`, or `all`.
TASK_FILTERS = ("open", "done", "skipped", "all")
# A delivery that was withdrawn or deliberately not made is no task to do.
_NOT_WORK = (CANCELLED, SKIPPED)

_d = t.deliveries.c
_TASK_FIELDS = (_d.id, _d.kind, _d.flow_id, _d.node, _d.run_id, _d.member_id, _d.payload, _d.at, _d.status)
_TASK_FIELDS += (_d.staff, _d.task_outcome, _d.closed_at)
_TASK_KEYS = ("id", "kind", "flow", "node", "run", "member", "payload", "at", "status", "staff", "outcome",
              "closed_at")  # fmt: skip

# One task closed by a `task_completed` event: (outcome, closed at, member, flow, node, delivery id or None).
Closing = tuple[str, int, str, str, str, int | None]


class TaskStore:
    """Task methods of :class:`engine.store.Store`."""

    engine: SAEngine

    def task_page(
        self, staff: str | None = None, status: str = "open", limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Tasks of one staff member (None: everyone's; `''`: those naming no one), oldest open first;
        closed ones newest closed first."""
        stmt = select(*_TASK_FIELDS).where(_d.staff.is_not(None))
        if staff is not None:
            stmt = stmt.where(_d.staff == staff)
        if status == "open":
            stmt = stmt.where(_d.task_outcome.is_(None), _d.status.not_in(_NOT_WORK)).order_by(_d.at, _d.id)
        elif status in TASK_OUTCOMES:
            stmt = stmt.where(_d.task_outcome == status).order_by(_d.closed_at.desc(), _d.id.desc())
        else:
            stmt = stmt.order_by(_d.at.desc(), _d.id.desc())
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.limit(limit).offset(offset)).tuples().all()
        return [_task(row) for row in rows]

    def get_task(self, delivery_id: int) -> dict[str, Any]:
        """One task (a delivery of a task kind); NotFound otherwise."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*_TASK_FIELDS).where(_d.id == delivery_id, _d.staff.is_not(None))
            ).first()
        if row is None:
            raise NotFound(f"no task {delivery_id} (找不到任务 {delivery_id})")
        return _task(tuple(row))

    def task_staff(self) -> list[str]:
        """The staff ids that have tasks (`''` for tasks naming no one), in order."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(_d.staff).where(_d.staff.is_not(None)).distinct().order_by(_d.staff)
                ).scalars()
            )

    def close_tasks(self, conn: Connection, closings: Sequence[Closing]) -> None:
        """Close the open tasks the `task_completed` events of a batch name: the one delivery when the
        event names it, else every open task of its member, flow and node. A closed task stays as it
        was closed first."""
        by_node = [c for c in closings if c[5] is None]
        by_id = [c for c in closings if c[5] is not None]
        values = {"task_outcome": bindparam("b_outcome"), "closed_at": bindparam("b_at")}
        open_task = (_d.task_outcome.is_(None), _d.staff.is_not(None))
        if by_node:
            conn.execute(
                update(t.deliveries)
                .where(
                    _d.member_id == bindparam("b_member"),
                    _d.flow_id == bindparam("b_flow"),
                    _d.node == bindparam("b_node"),
                    *open_task,
                )
                .values(**values),
                [
                    {"b_outcome": o, "b_at": at, "b_member": m, "b_flow": f, "b_node": n}
                    for o, at, m, f, n, _ in by_node
                ],
            )
        if by_id:
            conn.execute(
                update(t.deliveries).where(_d.id == bindparam("b_id"), *open_task).values(**values),
                [{"b_outcome": o, "b_at": at, "b_id": i} for o, at, _, _, _, i in by_id],
            )


def _task(row: Sequence[Any]) -> dict[str, Any]:
    task = dict(zip(_TASK_KEYS, row, strict=True))
    task["payload"] = msgspec.json.decode(task["payload"])
    return task


__all__ = ["TASK_FILTERS", "TASK_KINDS", "TASK_OUTCOMES", "Closing", "TaskStore"]
