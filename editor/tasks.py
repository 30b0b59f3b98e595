"""Staff tasks (issue #15): the inbox of work a staff member does by hand, and closing a task.

A task is a delivery of kind `task`, `friend_request` or `remove` (engine.store.tasks). Marking it
done or skipped posts a `task_completed` event, as `POST /api/events` would, naming the task's member,
flow and node and the task itself: the batch that takes it closes the task and resumes the run that
waits for it (`action.assign_task` with `wait`). The event's id is the task's, so two people closing
one task at once close it once; the second is told it is closed already.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from qunflow.engine.errors import Conflict
from qunflow.engine.event import Event
from qunflow.engine.store.leases import CANCELLED, SKIPPED

from .api.views import iso
from .names import Names
from .services import Services


class TaskView(msgspec.Struct):
    """A staff task as the API shows it: what to do, for whom, from which flow, since when."""

    id: int
    kind: str  # task, friend_request, remove
    # What to do: the task's title, the group to remove the member from, ...
    payload: dict[str, Any]
    staff: str | None  # None: the task names no staff member
    member: str | None
    member_name: str | None
    group_name: str | None  # the group a removal names, by name where known
    flow: str
    flow_name: str
    node: str
    node_label: str
    at: datetime | None  # since when it is open
    due: str | None
    # The delivery's own status (recorded, sent, ...) and the task's: open, done or skipped.
    delivery_status: str
    status: str
    closed_at: datetime | None


class TaskPage(msgspec.Struct):
    items: list[TaskView]
    limit: int
    offset: int
    next_offset: int | None


def task_views(services: Services, rows: list[dict[str, Any]], language: str = "zh") -> list[TaskView]:
    """Tasks as read from the store, with the names of their members, flows and nodes."""
    names = Names.load(
        services,
        language,
        nodes=[(r["flow"], None, r["node"]) for r in rows],
        members=[r["member"] for r in rows],
        groups=[r["payload"]["group"] for r in rows if isinstance(r["payload"].get("group"), str)],
    )
    return [
        TaskView(
            id=r["id"],
            kind=r["kind"],
            payload=r["payload"],
            staff=r["staff"] or None,
            member=r["member"],
            member_name=names.member(r["member"]),
            group_name=_group_name(names, r["payload"]),
            flow=r["flow"],
            flow_name=names.flow(r["flow"]),
            node=r["node"],
            node_label=names.node(r["flow"], r["node"]),
            at=iso(r["at"]),
            due=r["payload"].get("due") if isinstance(r["payload"].get("due"), str) else None,
            delivery_status=r["status"],
            status=r["outcome"] or "open",
            closed_at=iso(r["closed_at"]),
        )
        for r in rows
    ]


def _group_name(names: Names, payload: dict[str, Any]) -> str | None:
    group = payload.get("group")
    return names.group(group) if isinstance(group, str) else None


def complete_task(services: Services, task_id: int, outcome: str, by: str) -> None:
    """Close a task `done` or `skipped` as `by` did; the run waiting for it goes on. Conflict when it
    is closed already or was never to be done (cancelled, skipped)."""
    task = services.store.get_task(task_id)
    _must_be_open(task)
    if task["member"] is None:
        # A group's task: no member's run can wait for it; it is simply closed.
        with services.store.transaction() as conn:
            services.store.close_tasks(
                conn, [(outcome, services.now_us(), "", task["flow"], task["node"], task_id)]
            )
        return
    event = Event(
        id=f"task:{task_id}",
        type="task_completed",
        at=services.clock.now(),
        member=task["member"],
        data={"flow": task["flow"], "node": task["node"], "outcome": outcome, "delivery": task_id, "by": by},
    )
    if services.engine.ingest([event]).duplicate:
        _must_be_open(services.store.get_task(task_id))
        raise Conflict(f"task {task_id} is closed already (任务已处理)")


def _must_be_open(task: dict[str, Any]) -> None:
    if task["outcome"] is not None:
        raise Conflict(f"task {task['id']} is {task['outcome']} already (任务已处理)")
    if task["status"] in (CANCELLED, SKIPPED):
        raise Conflict(f"task {task['id']} was {task['status']}: there is nothing to do (任务已取消)")


__all__ = ["TaskPage", "TaskView", "complete_task", "task_views"]
