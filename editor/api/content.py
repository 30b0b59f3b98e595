"""`/api/content` (DESIGN §15): the content library (话术库 / 素材库) that message nodes send by id."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, delete, get, post, put
from litestar.params import Body, PathParameter

from qunflow.engine.content import CONTENT_KINDS, ContentItem

from ..auth import READ, WRITE, allow
from ..services import Services, ServicesDep
from .errors import convert_body, last_by, path_record
from .params import TEXT_PATTERN, Limit, Offset, text_filter
from .views import ContentPage, page_next

ItemId = Annotated[str, PathParameter(pattern=TEXT_PATTERN, max_length=200, description="content item id")]
_FIELDS = (
    "`{id, title, kind, text?, media?: {url, name?}, link?: {url, title, description?, image?}, "
    "miniprogram?: {appid, page, title, image?}}`; `kind` one of "
    + ", ".join(CONTENT_KINDS)
    + "; `text` is a template with `{{ member.name }}` placeholders"
)
ItemsBody = Annotated[
    dict[str, Any] | list[dict[str, Any]], Body(title="content", description=f"One item or a list: {_FIELDS}")
]
ItemBody = Annotated[
    dict[str, Any], Body(title="content item", description=f"{_FIELDS}; an `id` must be the path's")
]
QueryFilter = Annotated[str | None, text_filter("q", "a part of the id, title or text", r"^[^\x00]*$")]
KindFilter = Annotated[str | None, text_filter("kind", ", ".join(CONTENT_KINDS))]


def store_items(services: Services, items: list[ContentItem]) -> list[ContentItem]:
    """Write the items (all or none) and answer them as stored."""
    services.store.put_content(items, services.now_us())
    return last_by(items, "id")


class ContentController(Controller):
    path = "/api/content"
    tags = ["content"]

    @get(
        "", guards=[allow(READ)], sync_to_thread=True, summary="Content items in id order, searched and paged"
    )
    def list_content(
        self,
        services: ServicesDep,
        q: QueryFilter = None,
        kind: KindFilter = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> ContentPage:
        items = services.store.list_content(q, kind, limit, offset)
        return ContentPage(items, limit, offset, page_next(len(items), limit, offset))

    @post(
        "",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Create or replace one content item or a list, all or none",
        description="422 naming the item and field (`content[2].media.url`) when one is invalid, or when "
        "its text has a placeholder that can never resolve; nothing is stored then.",
    )
    def put_items(self, services: ServicesDep, data: ItemsBody) -> list[ContentItem]:
        return store_items(services, convert_body(data, ContentItem, "content"))

    @get("/{item_id:str}", guards=[allow(READ)], sync_to_thread=True, summary="A content item")
    def get_item(self, services: ServicesDep, item_id: ItemId) -> ContentItem:
        return services.store.get_content(item_id)

    @put(
        "/{item_id:str}",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        summary="Create or replace a content item",
    )
    def replace_item(self, services: ServicesDep, item_id: ItemId, data: ItemBody) -> ContentItem:
        return store_items(services, [path_record(data, ContentItem, "content item", "id", item_id)])[0]

    @delete(
        "/{item_id:str}",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        summary="Remove a content item; 409 naming the published flows that send it",
    )
    def delete_item(self, services: ServicesDep, item_id: ItemId) -> None:
        services.store.delete_content(item_id)
