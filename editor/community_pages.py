"""The community pages (DESIGN §15): groups and the content library (话术库) to list, search, create,
edit, delete and upload.

Plain forms that work without scripts (a refused one comes back as a page saying why); the upload
also works through htmx, which shows its progress and refreshes the list, and a refusal names the
line and field of the file. Writes go through the same store calls as the JSON API and the command
line, with the same "every line checked first, then all or nothing" rule.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.response import Redirect, Template

from qunflow.engine.content import CONTENT_KINDS, ContentItem
from qunflow.engine.errors import NotFound, UserError
from qunflow.engine.member import GROUP_KINDS, GroupRecord

from .api.content import ItemId
from .api.errors import convert_body
from .api.groups import GroupId
from .api.params import text_filter
from .auth import READ, WRITE, allow, services_of
from .importer import KINDS, parse_records
from .pages import _missing, page_context

GROUPS_PAGE = 50
Form = Body(media_type=RequestEncodingType.URL_ENCODED)
Upload = Body(media_type=RequestEncodingType.MULTI_PART)


class GroupForm(msgspec.Struct):
    """The group form's fields as the browser posts them: text, lists separated by `;` or `,`."""

    id: str = ""
    name: str = ""
    tags: str = ""
    kind: str = ""
    capacity: str = ""
    owner: str = ""

    def record(self) -> GroupRecord:
        tags = [t.strip() for t in self.tags.replace("，", ",").replace(",", ";").split(";") if t.strip()]
        values: dict[str, Any] = {"id": self.id.strip(), "tags": tags}
        for field in ("name", "kind", "owner"):
            if getattr(self, field).strip():
                values[field] = getattr(self, field).strip()
        capacity = self.capacity.strip()
        if capacity:
            if not capacity.isdigit():
                raise UserError("capacity: a whole number from 1 to 2000 (群容量应为 1-2000 的整数)")
            values["capacity"] = int(capacity)
        return convert_body(values, GroupRecord, "group")[0]


class UploadForm(msgspec.Struct):
    file: UploadFile


class GroupPages(Controller):
    path = "/groups"
    include_in_schema = False

    @get("", guards=[allow(READ)])
    async def groups(
        self,
        request: Request[Any, Any, Any],
        q: Annotated[str | None, text_filter("q", "a part of the id or name", r"^[^\x00]*$")] = None,
        offset: Annotated[int, Parameter(ge=0, le=10_000_000)] = 0,
        imported: Annotated[int | None, Parameter(ge=0, required=False)] = None,
    ) -> Template:
        store = services_of(request).store
        found = await anyio.to_thread.run_sync(
            lambda: store.list_groups(q or None, limit=GROUPS_PAGE, offset=offset)
        )
        context = await page_context(
            request,
            groups=found,
            q=q or "",
            offset=offset,
            next_offset=offset + GROUPS_PAGE if len(found) == GROUPS_PAGE else None,
            kinds=GROUP_KINDS,
            imported=imported,
        )
        template = "pages/groups_table.html" if request.headers.get("hx-request") else "pages/groups.html"
        return Template(template, context=context)

    @post("", guards=[allow(WRITE)])
    async def save(self, request: Request[Any, Any, Any], data: Annotated[GroupForm, Form]) -> Response[Any]:
        """Create a group, or update the one with this id."""
        record = data.record()
        await anyio.to_thread.run_sync(services_of(request).store.put_groups, [record])
        return Redirect("/groups", status_code=303)

    @post("/import", guards=[allow(WRITE)])
    async def upload(
        self, request: Request[Any, Any, Any], data: Annotated[UploadForm, Upload]
    ) -> Response[Any]:
        """groups.csv or groups.jsonl: every line checked, then all of them written, or none."""
        content = await data.file.read()
        records = parse_records(data.file.filename or "groups.csv", content, KINDS["groups"])
        await anyio.to_thread.run_sync(services_of(request).store.put_groups, records)
        if request.headers.get("hx-request"):
            context = await page_context(request, imported=len(records))
            return Template(
                "pages/imported.html", context=context, headers={"HX-Trigger": "qf-groups-changed"}
            )
        return Redirect(f"/groups?imported={len(records)}", status_code=303)

    @get("/{group_id:str}", guards=[allow(READ)])
    async def group(self, request: Request[Any, Any, Any], group_id: GroupId) -> Template:
        try:
            group = await anyio.to_thread.run_sync(services_of(request).store.get_group, group_id)
        except NotFound:
            return await _missing(request, "No group {id}", group_id)
        context = await page_context(request, group=group, kinds=GROUP_KINDS)
        return Template("pages/group.html", context=context)

    @post("/{group_id:str}/delete", guards=[allow(WRITE)])
    async def delete(self, request: Request[Any, Any, Any], group_id: GroupId) -> Response[Any]:
        await anyio.to_thread.run_sync(services_of(request).store.delete_group, group_id)
        return Redirect("/groups", status_code=303)


class ContentForm(msgspec.Struct):
    """The content form's fields as the browser posts them; the parts a kind does not use stay empty."""

    id: str = ""
    title: str = ""
    kind: str = "text"
    text: str = ""
    media_url: str = ""
    media_name: str = ""
    link_url: str = ""
    link_title: str = ""
    link_description: str = ""
    link_image: str = ""
    miniprogram_appid: str = ""
    miniprogram_page: str = ""
    miniprogram_title: str = ""
    miniprogram_image: str = ""

    def item(self) -> ContentItem:
        values: dict[str, Any] = {"id": self.id.strip(), "title": self.title.strip(), "kind": self.kind}
        if self.text.strip():
            values["text"] = self.text.strip()
        for part in ("media", "link", "miniprogram"):
            found = {
                name.removeprefix(part + "_"): value.strip()
                for name, value in msgspec.structs.asdict(self).items()
                if name.startswith(part + "_") and value.strip()
            }
            if found:
                values[part] = found
        return convert_body(values, ContentItem, "content item")[0]


class ContentPages(Controller):
    path = "/content"
    include_in_schema = False

    @get("", guards=[allow(READ)])
    async def library(
        self,
        request: Request[Any, Any, Any],
        q: Annotated[str | None, text_filter("q", "a part of the id, title or text", r"^[^\x00]*$")] = None,
        kind: Annotated[str | None, text_filter("kind", "content kind", r"^[a-z]*$")] = None,
        offset: Annotated[int, Parameter(ge=0, le=10_000_000)] = 0,
        imported: Annotated[int | None, Parameter(ge=0, required=False)] = None,
    ) -> Template:
        store = services_of(request).store
        found = await anyio.to_thread.run_sync(
            lambda: store.list_content(q or None, kind or None, limit=GROUPS_PAGE, offset=offset)
        )
        context = await page_context(
            request,
            items=found,
            q=q or "",
            kind=kind or "",
            offset=offset,
            next_offset=offset + GROUPS_PAGE if len(found) == GROUPS_PAGE else None,
            kinds=CONTENT_KINDS,
            imported=imported,
        )
        template = "pages/content_table.html" if request.headers.get("hx-request") else "pages/content.html"
        return Template(template, context=context)

    @post("", guards=[allow(WRITE)])
    async def save(
        self, request: Request[Any, Any, Any], data: Annotated[ContentForm, Form]
    ) -> Response[Any]:
        """Create an item, or replace the one with this id."""
        services = services_of(request)
        await anyio.to_thread.run_sync(services.store.put_content, [data.item()], services.now_us())
        return Redirect("/content", status_code=303)

    @post("/import", guards=[allow(WRITE)])
    async def upload(
        self, request: Request[Any, Any, Any], data: Annotated[UploadForm, Upload]
    ) -> Response[Any]:
        """content.jsonl or content.csv: every line checked, then all of them written, or none."""
        services = services_of(request)
        content = await data.file.read()
        items = parse_records(data.file.filename or "content.jsonl", content, KINDS["content"])
        await anyio.to_thread.run_sync(services.store.put_content, items, services.now_us())
        if request.headers.get("hx-request"):
            context = await page_context(request, imported=len(items))
            headers = {"HX-Trigger": "qf-content-changed"}
            return Template("pages/imported.html", context=context, headers=headers)
        return Redirect(f"/content?imported={len(items)}", status_code=303)

    @get("/{item_id:str}", guards=[allow(READ)])
    async def item(self, request: Request[Any, Any, Any], item_id: ItemId) -> Template:
        try:
            item = await anyio.to_thread.run_sync(services_of(request).store.get_content, item_id)
        except NotFound:
            return await _missing(request, "No content item {id}", item_id)
        context = await page_context(request, item=item, kinds=CONTENT_KINDS)
        return Template("pages/content_item.html", context=context)

    @post("/{item_id:str}/delete", guards=[allow(WRITE)])
    async def delete(self, request: Request[Any, Any, Any], item_id: ItemId) -> Response[Any]:
        await anyio.to_thread.run_sync(services_of(request).store.delete_content, item_id)
        return Redirect("/content", status_code=303)


__all__ = ["ContentPages", "GroupPages"]
