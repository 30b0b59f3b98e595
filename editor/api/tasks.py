"""`/api/tasks`: staff tasks (issue #15) — an inbox per staff member, and marking a task done or
skipped, which posts `task_completed` as `POST /api/events` does and so resumes the waiting run.

Reading is for every signed-in role; closing a task is a change to a member's journey, for admins and
operators (an `ingest` token may post `task_completed` events itself, as before).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import PathParameter

from qunflow.engine.errors import UserError
from qunflow.engine.store.tasks import TASK_FILTERS

from ..auth import READ, WRITE, allow
from ..services import Services, ServicesDep
from ..tasks import TaskPage, TaskView, complete_task, task_views
from .members import changed_by
from .params import BIGINT_MAX, Limit, Offset, text_filter
from .views import page_next

TaskId = Annotated[int, PathParameter(ge=1, le=BIGINT_MAX, description="task (delivery) id")]
StaffFilter = Annotated[str | None, text_filter("staff", "staff id: that staff member's tasks only")]
TaskStatusFilter = Annotated[
    str | None, text_filter("status", "open (default), done, skipped or all", r"^[a-z]{1,10}$")
]


def task_status(status: str | None) -> str:
    """The inbox's status filter; a 4xx naming `status` for anything else."""
    if status is None:
        return "open"
    if status not in TASK_FILTERS:
        raise UserError(f"status: one of {', '.join(TASK_FILTERS)}")
    return status


def one_task(services: Services, task_id: int) -> TaskView:
    return task_views(services, [services.store.get_task(task_id)])[0]


class TaskController(Controller):
    path = "/api/tasks"
    tags = ["tasks"]

    @get("", guards=[allow(READ)], sync_to_thread=True, summary="Staff tasks: open ones oldest first, paged")
    def list_tasks(
        self,
        services: ServicesDep,
        staff: StaffFilter = None,
        status: TaskStatusFilter = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> TaskPage:
        rows = services.store.task_page(staff, task_status(status), limit, offset)
        return TaskPage(task_views(services, rows), limit, offset, page_next(len(rows), limit, offset))

    @get("/{task_id:int}", guards=[allow(READ)], sync_to_thread=True, summary="One staff task")
    def get_task(self, services: ServicesDep, task_id: TaskId) -> TaskView:
        return one_task(services, task_id)

    @post(
        "/{task_id:int}/done",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Mark a task done: posts `task_completed` (outcome done); the waiting run goes on",
        description="404 if there is no such task; 409 if it is closed already or was cancelled.",
    )
    def done(self, request: Request[Any, Any, Any], services: ServicesDep, task_id: TaskId) -> TaskView:
        services.write(complete_task, services, task_id, "done", changed_by(request))
        return one_task(services, task_id)

    @post(
        "/{task_id:int}/skip",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Skip a task: posts `task_completed` (outcome skipped); the waiting run goes on",
        description="404 if there is no such task; 409 if it is closed already or was cancelled.",
    )
    def skip(self, request: Request[Any, Any, Any], services: ServicesDep, task_id: TaskId) -> TaskView:
        services.write(complete_task, services, task_id, "skipped", changed_by(request))
        return one_task(services, task_id)


__all__ = ["TaskController", "one_task", "task_status"]
