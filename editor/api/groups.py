"""`/api/groups` (DESIGN §15): the groups operators register — name, tags, kind, capacity, owner."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, delete, get, post, put
from litestar.params import Body, PathParameter

from qunflow.engine.member import GROUP_KINDS, GroupRecord

from ..auth import READ, WRITE, allow
from ..services import Services, ServicesDep
from .errors import convert_body, path_record
from .export import Format, csv_download
from .params import TEXT_PATTERN, Limit, Offset, text_filter
from .views import GroupPage, GroupView, page_next

GroupId = Annotated[str, PathParameter(pattern=TEXT_PATTERN, max_length=200, description="group id")]
_FIELDS = (
    "`{id, name?, tags?, kind?, capacity?, owner?}`; `kind` one of "
    + ", ".join(GROUP_KINDS)
    + "; `capacity` 1-2000 (the size `action.invite_to_group` fills the group to); `owner` a staff id"
)
GroupsBody = Annotated[
    dict[str, Any] | list[dict[str, Any]], Body(title="groups", description=f"One group or a list: {_FIELDS}")
]
GroupBody = Annotated[
    dict[str, Any],
    Body(title="group", description=f"{_FIELDS}; an `id` must be the path's"),
]
QueryFilter = Annotated[str | None, text_filter("q", "a part of the id or name, any case", r"^[^\x00]*$")]
TagFilter = Annotated[str | None, text_filter("tag", "groups with this tag")]
KindFilter = Annotated[str | None, text_filter("kind", "traffic, conversion, fans, flash_sale, vip, other")]


def register_groups(services: Services, records: list[GroupRecord]) -> list[GroupView]:
    """Write the groups (all or none) and answer them as stored."""
    services.store.put_groups(records)
    return [GroupView(**services.store.get_group(g)) for g in dict.fromkeys(r.id for r in records)]


class GroupController(Controller):
    path = "/api/groups"
    tags = ["groups"]

    @get("", guards=[allow(READ)], sync_to_thread=True, summary="Groups in id order, searched and paged")
    def list_groups(
        self,
        services: ServicesDep,
        q: QueryFilter = None,
        tag: TagFilter = None,
        kind: KindFilter = None,
        limit: Limit = 50,
        offset: Offset = 0,
        format: Format = None,
    ) -> GroupPage:
        if format == "csv":
            columns = ("id", "name", "tags", "kind", "capacity", "owner", "members")
            return csv_download(  # type: ignore[return-value]
                "groups", columns, lambda at, size: services.store.list_groups(q, tag, kind, size, at)
            )
        rows = services.store.list_groups(q, tag, kind, limit, offset)
        return GroupPage([GroupView(**r) for r in rows], limit, offset, page_next(len(rows), limit, offset))

    @post(
        "",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Create or update one group or a list, all or none",
        description="422 naming the item and field (`groups[3].capacity`) when one is invalid; nothing "
        "is stored then. A group keeps its member count.",
    )
    def put_groups(self, services: ServicesDep, data: GroupsBody) -> list[GroupView]:
        return register_groups(services, convert_body(data, GroupRecord, "groups"))

    @get("/{group_id:str}", guards=[allow(READ)], sync_to_thread=True, summary="A group")
    def get_group(self, services: ServicesDep, group_id: GroupId) -> GroupView:
        return GroupView(**services.store.get_group(group_id))

    @put(
        "/{group_id:str}",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        summary="Create or replace a group",
        description="Fields left out are cleared (a PUT replaces); 422 naming the field.",
    )
    def replace_group(self, services: ServicesDep, group_id: GroupId, data: GroupBody) -> GroupView:
        return register_groups(services, [path_record(data, GroupRecord, "group", "id", group_id)])[0]

    @delete(
        "/{group_id:str}",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        summary="Remove a group; 409 while members are in it",
    )
    def delete_group(self, services: ServicesDep, group_id: GroupId) -> None:
        services.store.delete_group(group_id)
