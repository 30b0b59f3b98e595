"""The staff task inbox (任务, issue #15): open tasks per staff member — what to do, for which member,
from which flow, since when — and one task's page (WeCom app messages link there, DESIGN §20) with
完成 / 跳过, which close it the way `POST /api/tasks/{id}/done|skip` does and so resume the run."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter
from litestar.response import Redirect, Template

from .api.members import changed_by
from .api.params import text_filter
from .api.tasks import TaskId, one_task, task_status
from .auth import READ, WRITE, allow, services_of
from .pages import ANY_TEXT, page_context
from .services import Services
from .tasks import TaskView, complete_task, task_views

TASKS_PAGE = 50
# What the inbox's status filter offers, in its order.
STATUS_CHOICES = ("open", "done", "skipped", "all")


class TaskPages(Controller):
    path = "/tasks"
    include_in_schema = False

    @get("", guards=[allow(READ)])
    async def tasks(
        self,
        request: Request[Any, Any, Any],
        staff: Annotated[str | None, text_filter("staff", "staff id", ANY_TEXT)] = None,
        status: Annotated[str | None, text_filter("status", "task status", ANY_TEXT)] = None,
        offset: Annotated[int, Parameter(ge=0, le=10_000_000)] = 0,
    ) -> Template:
        chosen = task_status(status or None)
        context = await page_context(request)
        services = services_of(request)
        rows, staff_names = await anyio.to_thread.run_sync(
            _inbox, services, context["lang"], staff or None, chosen, offset
        )
        filters = {"staff": staff or "", "status": chosen}
        context.update(
            tasks=rows,
            staff_names=staff_names,
            filters=filters,
            statuses=STATUS_CHOICES,
            offset=offset,
            next_offset=offset + TASKS_PAGE if len(rows) == TASKS_PAGE else None,
            more_query=urlencode({**filters, "offset": offset + TASKS_PAGE}),
        )
        hx = request.headers.get("hx-request")
        return Template("pages/tasks_table.html" if hx else "pages/tasks.html", context=context)

    @get("/{task_id:int}", guards=[allow(READ)])
    async def task(self, request: Request[Any, Any, Any], task_id: TaskId) -> Template:
        return await self._task(request, task_id, "pages/task.html")

    @post("/{task_id:int}/done", guards=[allow(WRITE)])
    async def done(self, request: Request[Any, Any, Any], task_id: TaskId) -> Response[Any]:
        return await self._close(request, task_id, "done")

    @post("/{task_id:int}/skip", guards=[allow(WRITE)])
    async def skip(self, request: Request[Any, Any, Any], task_id: TaskId) -> Response[Any]:
        return await self._close(request, task_id, "skipped")

    async def _close(self, request: Request[Any, Any, Any], task_id: int, outcome: str) -> Response[Any]:
        services = services_of(request)
        who = changed_by(request)
        await anyio.to_thread.run_sync(services.write, complete_task, services, task_id, outcome, who)
        if not request.headers.get("hx-request"):
            return Redirect(f"/tasks/{task_id}", status_code=303)
        # The inbox's row, or the task page's card: whichever the buttons were in.
        in_row = request.headers.get("hx-target", "").startswith("task-row-")
        return await self._task(request, task_id, "pages/task_row.html" if in_row else "pages/task_card.html")

    async def _task(self, request: Request[Any, Any, Any], task_id: int, template: str) -> Template:
        context = await page_context(request)
        services = services_of(request)
        task, staff_names = await anyio.to_thread.run_sync(_one, services, context["lang"], task_id)
        context.update(task=task, staff_names=staff_names)
        return Template(template, context=context)


def _staff_names(services: Services, ids: list[str]) -> dict[str, str]:
    """Every staff member's name by id (the filter offers them all), and those only tasks name."""
    names = {s.id: s.name or s.id for s in services.store.list_staff(limit=500)}
    for staff_id in ids:
        names.setdefault(staff_id, staff_id)
    return names


def _inbox(
    services: Services, language: str, staff: str | None, status: str, offset: int
) -> tuple[list[TaskView], dict[str, str]]:
    rows = services.store.task_page(staff, status, TASKS_PAGE, offset)
    named = [s for s in services.store.task_staff() if s]
    return task_views(services, rows, language), _staff_names(services, named)


def _one(services: Services, language: str, task_id: int) -> tuple[TaskView, dict[str, str]]:
    task = task_views(services, [services.store.get_task(task_id)], language)[0]
    return task, _staff_names(services, [task.staff] if task.staff else [])


__all__ = ["TaskPages", "one_task"]
