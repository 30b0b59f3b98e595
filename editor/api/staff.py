"""`/api/staff` (DESIGN §15): staff accounts (员工) — who sends friend requests, and how many a day."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, delete, get, post, put
from litestar.params import Body, PathParameter

from qunflow.engine.member import StaffRecord

from ..auth import READ, WRITE, allow
from ..services import ServicesDep
from .errors import convert_body, last_by, path_record
from .params import TEXT_PATTERN, Limit, Offset, text_filter
from .views import StaffPage, page_next

StaffId = Annotated[str, PathParameter(pattern=TEXT_PATTERN, max_length=200, description="staff id")]
_FIELDS = (
    "`{id, name?, daily_friend_limit?}`; `daily_friend_limit` 1-1000: the friend requests "
    "`action.add_friend` sends from the account a day (the node's `daily_limit` when absent)"
)
StaffBody = Annotated[
    dict[str, Any] | list[dict[str, Any]],
    Body(title="staff", description=f"One account or a list: {_FIELDS}"),
]
OneBody = Annotated[
    dict[str, Any], Body(title="staff member", description=f"{_FIELDS}; an `id` must be the path's")
]
QueryFilter = Annotated[str | None, text_filter("q", "a part of the id or name", r"^[^\x00]*$")]


class StaffController(Controller):
    path = "/api/staff"
    tags = ["staff"]

    @get(
        "",
        guards=[allow(READ)],
        sync_to_thread=True,
        summary="Staff accounts in id order, searched and paged",
    )
    def list_staff(
        self, services: ServicesDep, q: QueryFilter = None, limit: Limit = 50, offset: Offset = 0
    ) -> StaffPage:
        found = services.store.list_staff(q, limit, offset)
        return StaffPage(found, limit, offset, page_next(len(found), limit, offset))

    @post(
        "",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Create or replace one account or a list, all or none",
    )
    def put_staff(self, services: ServicesDep, data: StaffBody) -> list[StaffRecord]:
        records = convert_body(data, StaffRecord, "staff")
        services.store.put_staff(records)
        return last_by(records, "id")

    @get("/{staff_id:str}", guards=[allow(READ)], sync_to_thread=True, summary="A staff account")
    def get_staff(self, services: ServicesDep, staff_id: StaffId) -> StaffRecord:
        return services.store.get_staff(staff_id)

    @put(
        "/{staff_id:str}",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        summary="Create or replace a staff account",
    )
    def replace_staff(self, services: ServicesDep, staff_id: StaffId, data: OneBody) -> StaffRecord:
        record = path_record(data, StaffRecord, "staff member", "id", staff_id)
        services.store.put_staff([record])
        return record

    @delete("/{staff_id:str}", guards=[allow(WRITE)], sync_to_thread=True, summary="Remove a staff account")
    def delete_staff(self, services: ServicesDep, staff_id: StaffId) -> None:
        services.store.delete_staff(staff_id)
