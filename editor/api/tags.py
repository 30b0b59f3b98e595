"""`/api/tags` (DESIGN §15): the tag library (标签库) — each tag's category and colour."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, delete, get, post
from litestar.params import Body, PathParameter

from qunflow.engine.member import TAG_CATEGORIES, TagRecord

from ..auth import READ, WRITE, allow
from ..services import ServicesDep
from .errors import convert_body, last_by
from .params import TEXT_PATTERN, text_filter

TagName = Annotated[str, PathParameter(pattern=TEXT_PATTERN, max_length=200, description="tag name")]
TagsBody = Annotated[
    dict[str, Any] | list[dict[str, Any]],
    Body(
        title="tags",
        description="One tag or a list: `{name, category?, color?}`; `category` one of "
        + ", ".join(TAG_CATEGORIES)
        + " (default other); `color` like `#0b7a75`",
    ),
]
QueryFilter = Annotated[str | None, text_filter("q", "a part of the name", r"^[^\x00]*$")]
CategoryFilter = Annotated[str | None, text_filter("category", ", ".join(TAG_CATEGORIES))]


class TagController(Controller):
    path = "/api/tags"
    tags = ["tags"]

    @get("", guards=[allow(READ)], sync_to_thread=True, summary="The tag library in name order")
    def list_tags(
        self, services: ServicesDep, q: QueryFilter = None, category: CategoryFilter = None
    ) -> list[TagRecord]:
        return services.store.list_tags(q, category, limit=10_000)

    @post(
        "",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Create or replace one tag or a list, all or none",
    )
    def put_tags(self, services: ServicesDep, data: TagsBody) -> list[TagRecord]:
        records = convert_body(data, TagRecord, "tags")
        services.store.put_tags(records)
        return last_by(records, "name")

    @delete(
        "/{name:str}",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        summary="Remove a tag from the library (members keep it)",
    )
    def delete_tag(self, services: ServicesDep, name: TagName) -> None:
        services.store.delete_tag(name)
