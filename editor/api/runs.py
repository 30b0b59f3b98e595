"""`/api/runs`: runs newest first, retrying a failed run, and taking a member out of a flow."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.params import QueryParameter

from ..auth import READ, WRITE, allow
from ..services import ServicesDep
from .export import Format, csv_download
from .params import FlowFilter, Limit, MemberFilter, Offset, RunId
from .views import RunPage, RunView, page_next

Status = Literal["active", "waiting", "done", "exited", "failed"]


class RunController(Controller):
    path = "/api/runs"
    tags = ["runs"]

    @get("", guards=[allow(READ)], sync_to_thread=True, summary="Runs, newest first, paged")
    def list_runs(
        self,
        services: ServicesDep,
        flow: FlowFilter = None,
        status: Annotated[
            Status | None, QueryParameter(name="status", required=False, description="run status")
        ] = None,
        member: MemberFilter = None,
        limit: Limit = 50,
        offset: Offset = 0,
        format: Format = None,
    ) -> RunPage:
        if format == "csv":
            return csv_download(  # type: ignore[return-value]
                "runs",
                RunView.__struct_fields__,
                lambda at, size: [
                    RunView.of(r)
                    for r in services.store.runs(
                        flow_id=flow, status=status, member_id=member, limit=size, offset=at
                    )
                ],
            )
        runs = services.store.runs(flow_id=flow, status=status, member_id=member, limit=limit, offset=offset)
        return RunPage([RunView.of(r) for r in runs], limit, offset, page_next(len(runs), limit, offset))

    @post(
        "/{run_id:int}/retry",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Retry a failed run from the node where it failed; 409 if it is not failed",
    )
    def retry(self, services: ServicesDep, run_id: RunId) -> RunView:
        services.write(services.engine.retry, run_id)
        with services.store.transaction() as conn:
            return RunView.of(services.store.get_run(conn, run_id))

    @post(
        "/{run_id:int}/remove",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Take the member out of the flow: the waiting run exits (reason `removed`); 409 otherwise",
    )
    def remove(self, services: ServicesDep, run_id: RunId) -> RunView:
        services.write(services.engine.remove_from_flow, run_id)
        with services.store.transaction() as conn:
            return RunView.of(services.store.get_run(conn, run_id))
