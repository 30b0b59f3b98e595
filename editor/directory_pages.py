"""The simpler community pages (DESIGN §15): staff (员工) and the tag library (标签库).

One page shape for both: search, the list, a form that creates or replaces a record by its key (a
row's "edit" fills it in), removal, and an upload with the importer's rule (every line checked, then
all or none). A refused form comes back as a page saying why, naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import PathParameter
from litestar.response import Redirect, Template

from qunflow.engine.member import TAG_CATEGORIES, StaffRecord, TagRecord
from qunflow.engine.store import Store

from .api.errors import convert_body
from .api.params import TEXT_PATTERN, text_filter
from .auth import READ, WRITE, allow, services_of
from .community_pages import (
    Count,
    PageOffset,
    Upload,
    UploadForm,
    after_upload,
    listing,
    next_offset,
    read_upload,
    removed,
)
from .importer import KINDS
from .pages import page_context

PAGE = 100
Key = Annotated[str, PathParameter(pattern=TEXT_PATTERN, max_length=200, description="id or name")]


@dataclass(frozen=True)
class Field:
    """A form field and list column: the record's field, its label, and the choices of a select."""

    name: str
    label: str
    kind: str = "text"  # an <input> type, or "select"
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Directory:
    """What a page lists and edits."""

    path: str
    title: str
    key: str
    record: type[msgspec.Struct]
    fields: tuple[Field, ...]
    importable: str
    hint: str

    def listed(self, store: Store, q: str | None, offset: int) -> list[Any]:
        if self.importable == "staff":
            return store.list_staff(q, PAGE, offset)
        return store.list_tags(q, None, PAGE, offset)

    def put(self, store: Store, records: list[Any]) -> None:
        (store.put_staff if self.importable == "staff" else store.put_tags)(records)

    def delete(self, store: Store, key: str) -> None:
        (store.delete_staff if self.importable == "staff" else store.delete_tag)(key)


STAFF = Directory(
    "/staff",
    "Staff",
    "id",
    StaffRecord,
    (Field("id", "ID"), Field("name", "Name"), Field("daily_friend_limit", "Daily friend limit", "number")),
    "staff",
    "A .csv file with a header row (id, name, daily_friend_limit) or a .jsonl file. Every line is "
    "checked first; a bad line stores nothing.",
)
TAGS = Directory(
    "/tags",
    "Tag library",
    "name",
    TagRecord,
    (
        Field("name", "Name"),
        Field("category", "Category", "select", TAG_CATEGORIES),
        Field("color", "Colour", "color"),
    ),
    "tags",
    "A .csv file with a header row (name, category, color) or a .jsonl file. Every line is checked "
    "first; a bad line stores nothing.",
)


class DirectoryPages(Controller):
    """The page of one `directory` (a subclass says which)."""

    directory: ClassVar[Directory]
    include_in_schema = False

    @get("", guards=[allow(READ)])
    async def listing(
        self,
        request: Request[Any, Any, Any],
        q: Annotated[str | None, text_filter("q", "a part of the key or name", r"^[^\x00]*$")] = None,
        edit: Annotated[
            str | None, text_filter("edit", "the record to fill the form with", TEXT_PATTERN)
        ] = None,
        offset: PageOffset = 0,
        imported: Count = None,
    ) -> Template:
        directory = self.directory
        store = services_of(request).store
        found = await anyio.to_thread.run_sync(directory.listed, store, q or None, offset)
        rows = [msgspec.to_builtins(r) for r in found]
        editing = next((r for r in rows if r[directory.key] == edit), None)
        if edit and editing is None:  # not on this page of the list: look it up
            everything = await anyio.to_thread.run_sync(directory.listed, store, edit, 0)
            editing = next(
                (msgspec.to_builtins(r) for r in everything if getattr(r, directory.key) == edit), None
            )
        context = await page_context(
            request,
            directory=directory,
            rows=rows,
            editing=editing or {},
            q=q or "",
            offset=offset,
            next_offset=next_offset(offset, rows, PAGE),
            imported=imported,
        )
        return listing(request, "directory", context)

    @post("", guards=[allow(WRITE)])
    async def save(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Create a record, or replace the one with this key; empty fields are left out."""
        form = await request.form()
        values = {
            f.name: str(form.get(f.name, "")).strip()
            for f in self.directory.fields
            if str(form.get(f.name, "")).strip()
        }
        records = convert_body(values, self.directory.record, self.directory.importable, strict=False)
        await anyio.to_thread.run_sync(self.directory.put, services_of(request).store, records)
        return Redirect(self.directory.path, status_code=303)

    @post("/import", guards=[allow(WRITE)])
    async def upload(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[UploadForm, Upload],
    ) -> Response[Any]:
        kind = self.directory.importable
        records = await read_upload(data, kind, f"{KINDS[kind].name}.csv")
        await anyio.to_thread.run_sync(self.directory.put, services_of(request).store, records)
        return await after_upload(request, len(records), self.directory.path, "qf-directory-changed")

    @post("/{key:str}/delete", guards=[allow(WRITE)])
    async def remove(self, request: Request[Any, Any, Any], key: Key) -> Response[Any]:
        store = services_of(request).store
        return await removed(lambda k: self.directory.delete(store, k), key, self.directory.path)


class StaffPages(DirectoryPages):
    path = "/staff"
    directory = STAFF


class TagPages(DirectoryPages):
    path = "/tags"
    directory = TAGS


__all__ = ["StaffPages", "TagPages"]
