"""The community pages (DESIGN §15): groups and the content library (话术库) to list, search, create,
edit, delete and upload.

Plain forms that work without scripts (a refused one comes back as a page saying why); the upload
also works through htmx, which shows its progress and refreshes the list, and a refusal names the
line and field of the file. Writes go through the same store calls as the JSON API and the command
line, with the same "every line checked first, then all or nothing" rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.response import Redirect, Template

from qunflow.engine.connectors.wecom.channel_codes import join_way_of
from qunflow.engine.content import CONTENT_KINDS, ContentItem
from qunflow.engine.edits import Edit
from qunflow.engine.errors import NotFound, UserError
from qunflow.engine.member import GROUP_KINDS, GroupRecord

from .api.content import ItemId
from .api.errors import convert_body
from .api.groups import GroupId
from .api.members import changed_by
from .api.params import MemberId, text_filter
from .auth import READ, WRITE, allow, services_of
from .importer import KINDS, parse_records
from .member_edits import edit_members
from .pages import _missing, page_context

GROUPS_PAGE = 50
Form = Body(media_type=RequestEncodingType.URL_ENCODED)
Upload = Body(media_type=RequestEncodingType.MULTI_PART)
PageOffset = Annotated[int, Parameter(ge=0, le=10_000_000, description="where the page starts")]
Count = Annotated[int | None, Parameter(ge=0, required=False, description="how many the last change stored")]


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


def listing(request: Request[Any, Any, Any], name: str, context: dict[str, Any]) -> Template:
    """The list page `pages/{name}.html`, or for htmx only its table `pages/{name}_table.html`."""
    table = request.headers.get("hx-request")
    return Template(f"pages/{name}_table.html" if table else f"pages/{name}.html", context=context)


def next_offset(offset: int, found: list[Any], page: int) -> int | None:
    """Where the next page of a list starts, or None when this page is its last."""
    return offset + page if len(found) == page else None


async def read_upload(data: UploadForm, kind: str, default_name: str) -> list[Any]:
    """The records of an uploaded file of this importer kind, every line checked (UserError if one is bad)."""
    return parse_records(data.file.filename or default_name, await data.file.read(), KINDS[kind])


async def record_page(
    request: Request[Any, Any, Any],
    template: str,
    name: str,
    load: Callable[[str], Any],
    key: str,
    missing: str,
    **context: Any,
) -> Template:
    """The page `template` of the record `load(key)` finds, given to it as `name` with `context` beside
    it; a 404 page saying `missing` (with `{id}`) when there is none."""
    try:
        record = await anyio.to_thread.run_sync(load, key)
    except NotFound:
        return await _missing(request, missing, key)
    return Template(template, context=await page_context(request, **{name: record}, **context))


async def removed(remove: Callable[[str], None], key: str, back: str) -> Response[Any]:
    """Remove the record with this key, then back to the list at `back`."""
    await anyio.to_thread.run_sync(remove, key)
    return Redirect(back, status_code=303)


async def after_upload(request: Request[Any, Any, Any], count: int, path: str, event: str) -> Response[Any]:
    """After an upload: for htmx the count and the `event` that refreshes the list, else back to the list."""
    if request.headers.get("hx-request"):
        context = await page_context(request, imported=count)
        return Template("pages/imported.html", context=context, headers={"HX-Trigger": event})
    return Redirect(f"{path}?imported={count}", status_code=303)


class GroupPages(Controller):
    path = "/groups"
    include_in_schema = False

    @get("", guards=[allow(READ)])
    async def groups(
        self,
        request: Request[Any, Any, Any],
        q: Annotated[str | None, text_filter("q", "a part of the id or name", r"^[^\x00]*$")] = None,
        offset: PageOffset = 0,
        imported: Count = None,
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
            next_offset=next_offset(offset, found, GROUPS_PAGE),
            kinds=GROUP_KINDS,
            imported=imported,
        )
        return listing(request, "groups", context)

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
        records = await read_upload(data, "groups", "groups.csv")
        await anyio.to_thread.run_sync(services_of(request).store.put_groups, records)
        return await after_upload(request, len(records), "/groups", "qf-groups-changed")

    @get("/{group_id:str}", guards=[allow(READ)])
    async def group(self, request: Request[Any, Any, Any], group_id: GroupId) -> Template:
        services = services_of(request)
        load = services.store.get_group
        join_way = await anyio.to_thread.run_sync(join_way_of, services.store, group_id)
        wecom = await anyio.to_thread.run_sync(lambda: "wecom" in services.connectors.stored())
        return await record_page(
            request,
            "pages/group.html",
            "group",
            load,
            group_id,
            "No group {id}",
            kinds=GROUP_KINDS,
            join_way=join_way,
            wecom=wecom,
        )

    @post("/{group_id:str}/delete", guards=[allow(WRITE)])
    async def delete(self, request: Request[Any, Any, Any], group_id: GroupId) -> Response[Any]:
        return await removed(services_of(request).store.delete_group, group_id, "/groups")


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
        offset: PageOffset = 0,
        imported: Count = None,
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
            next_offset=next_offset(offset, found, GROUPS_PAGE),
            kinds=CONTENT_KINDS,
            imported=imported,
        )
        return listing(request, "content", context)

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
        items = await read_upload(data, "content", "content.jsonl")
        await anyio.to_thread.run_sync(services.store.put_content, items, services.now_us())
        return await after_upload(request, len(items), "/content", "qf-content-changed")

    @get("/{item_id:str}", guards=[allow(READ)])
    async def item(self, request: Request[Any, Any, Any], item_id: ItemId) -> Template:
        load = services_of(request).store.get_content
        return await record_page(
            request,
            "pages/content_item.html",
            "item",
            load,
            item_id,
            "No content item {id}",
            kinds=CONTENT_KINDS,
        )

    @post("/{item_id:str}/delete", guards=[allow(WRITE)])
    async def delete(self, request: Request[Any, Any, Any], item_id: ItemId) -> Response[Any]:
        return await removed(services_of(request).store.delete_content, item_id, "/content")


def _labels(text: str) -> list[str]:
    """A form's list of tags: separated by `;`, `,` or `，`."""
    return [t.strip() for t in text.replace("，", ",").replace(",", ";").split(";") if t.strip()]


class MemberPages(Controller):
    """The members list (search, filters, bulk changes) and the blacklist switch of a member's page;
    the member's own page is `/members/{id}` (pages.py)."""

    path = "/members"
    include_in_schema = False

    @get("", guards=[allow(READ)])
    async def members(
        self,
        request: Request[Any, Any, Any],
        q: Annotated[str | None, text_filter("q", "a part of the id or name", r"^[^\x00]*$")] = None,
        tag: Annotated[str | None, text_filter("tag", "tag", r"^[^\x00]*$")] = None,
        group: Annotated[str | None, text_filter("group", "group", r"^[^\x00]*$")] = None,
        blacklisted: Annotated[
            str | None, text_filter("blacklisted", "yes or no", r"^(|true|false)$")
        ] = None,
        offset: PageOffset = 0,
        changed: Count = None,
    ) -> Template:
        store = services_of(request).store
        flag = {"true": True, "false": False}.get(blacklisted or "")
        found = await anyio.to_thread.run_sync(
            lambda: store.member_page(
                q or None,
                tag=tag or None,
                group=group or None,
                blacklisted=flag,
                limit=GROUPS_PAGE,
                offset=offset,
            )
        )
        filters = {"q": q or "", "tag": tag or "", "group": group or "", "blacklisted": blacklisted or ""}
        # The page's groups by name, and every group (up to a thousand) for the group filter.
        group_names = await anyio.to_thread.run_sync(store.group_names)
        shown = {g for m in found for g in m.groups} - group_names.keys()
        if shown:
            group_names |= await anyio.to_thread.run_sync(store.group_names, shown)
        context = await page_context(
            request,
            members=found,
            group_names=group_names,
            filters=filters,
            offset=offset,
            next_offset=next_offset(offset, found, GROUPS_PAGE),
            changed=changed,
        )
        return listing(request, "members", context)

    @post("/bulk", guards=[allow(WRITE)])
    async def bulk(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Tags added and removed, and the blacklist set or lifted, for the members ticked."""
        form = await request.form()
        members = [m for m in form.getall("members", []) if isinstance(m, str) and m]
        if not members:
            raise UserError("members: tick at least one member (请先勾选成员)")
        blacklist = {"set": True, "lift": False}.get(str(form.get("blacklist", "")))
        added, removed = _labels(str(form.get("add_tags", ""))), _labels(str(form.get("remove_tags", "")))
        edit = msgspec.convert({"add_tags": added, "remove_tags": removed, "blacklist": blacklist}, Edit)
        services = services_of(request)
        changed = await anyio.to_thread.run_sync(edit_members, services, members, edit, changed_by(request))
        return Redirect(f"/members?changed={changed}", status_code=303)

    @post("/{member_id:str}/blacklist", guards=[allow(WRITE)])
    async def blacklist(self, request: Request[Any, Any, Any], member_id: MemberId) -> Response[Any]:
        """Set (`blacklist=set`) or lift (`blacklist=lift`) the member's blacklist."""
        form = await request.form()
        flag = {"set": True, "lift": False}.get(str(form.get("blacklist", "")))
        if flag is None:
            raise UserError("blacklist: `set` or `lift`")
        services = services_of(request)
        await anyio.to_thread.run_sync(
            edit_members, services, [member_id], Edit(blacklist=flag), changed_by(request)
        )
        return Redirect(f"/members/{quote(member_id, safe='')}", status_code=303)


__all__ = ["ContentPages", "GroupPages", "MemberPages"]
