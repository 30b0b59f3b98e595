"""What every request must satisfy at the door, before any handler sees it.

PostgreSQL refuses a NUL character in text (SQLite stores it), so a NUL anywhere in a user name, a
flow name, a token label or an event would fail deep in a write, as a 500, on one backend only. One
check here, for every route: the query string, form fields and JSON bodies; the answer names the
field. The common case costs one scan of the raw bytes.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import ValidationException

from qunflow.engine.errors import UserError

NUL_REFUSED = "NUL characters are not allowed (不允许 NUL 字符)"


class NulRefused(UserError):
    """A NUL character was sent where text is stored."""


def find_nul(value: Any, path: str = "") -> str | None:
    """The path of the first string (or key) in decoded JSON that holds a NUL character, else None."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return path or "body"
            found = find_nul(item, where)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_nul(item, f"{path}[{index}]")
            if found:
                return found
    return None


async def refuse_nul_input(request: Request[Any, Any, Any]) -> None:
    """A `before_request` hook: a 400 naming the query parameter, or NulRefused (422) naming the form
    field or JSON path, that holds a NUL character."""
    if b"%00" in request.scope.get("query_string", b""):
        for name, value in request.query_params.multi_items():
            if "\x00" in name or "\x00" in value:
                # A bad query is a bad request (400), as any other malformed query parameter.
                raise ValidationException(f"{name.replace(chr(0), '')}: {NUL_REFUSED}")
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    content_type, _ = request.content_type
    if content_type in (RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART):
        form = await request.form()
        for name, value in form.multi_items():
            if "\x00" in name or (isinstance(value, str) and "\x00" in value):
                raise NulRefused(f"{name.replace(chr(0), '')}: {NUL_REFUSED}")
    elif content_type.endswith("json"):
        body = await request.body()
        if b"\\u0000" in body or b"\x00" in body:
            try:
                field = find_nul(msgspec.json.decode(body))
            except (msgspec.DecodeError, RecursionError):
                return  # malformed: the handler's decoding says so
            if field:
                raise NulRefused(f"{field}: {NUL_REFUSED}")


__all__ = ["NUL_REFUSED", "NulRefused", "find_nul", "refuse_nul_input"]
