"""The one place where errors become HTTP answers.

Every answer is JSON `{"error": code, "message": text, ...}` naming what is wrong (the field, the
node). Flow problems are 422 with the full `problems` list; a bad event is 422 naming the field, and
so is a body field out of its type or range; malformed bodies are 400; unknown things 404; wrong
states 409; oversized bodies 413. A database that is busy (SQLite's write lock held too long) or out
of reach is 503: nothing of the request is stored, and sending it again later is safe. An error the
input did not cause is logged and answered 500
without details.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar
from urllib.parse import quote

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, PermissionDeniedException, ValidationException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DBAPIError

from qunflow.engine import testsend
from qunflow.engine.connectors import SettingInvalid
from qunflow.engine.errors import (
    Conflict,
    EventInvalid,
    FlowInvalid,
    NotFound,
    UserError,
    join_path,
    validation_message,
)
from qunflow.engine.store.retry import is_transient

from ..auth import CsrfRefused, LoginRequired
from ..i18n import LANGUAGE_COOKIE, choose_language, translator
from ..problem_words import problem_words

log = logging.getLogger("qunflow.editor")
T = TypeVar("T")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
}
# A 503's message: the database is busy (SQLite's write lock) or out of reach.
BUSY = "the database is busy; try again shortly (数据库繁忙，请稍后再试)"


class BadBody(UserError):
    """The request body is not valid JSON."""


def _json(status: int, error: str, message: str, **extra: Any) -> Response[Any]:
    return Response(
        {"error": error, "message": message, **extra}, status_code=status, media_type="application/json"
    )


def _wants_page(request: Request[Any, Any, Any]) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def error_response(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """Map any exception to an answer (the app's only exception handler). A form a browser posted
    outside the API gets its refusal as a page, in the operator's language, rather than JSON."""
    answer = _answer(request, error)
    if (
        400 <= answer.status_code < 500
        and isinstance(answer.content, dict)
        and _wants_page(request)
        and not request.headers.get("hx-request")
    ):
        language = choose_language(request.cookies.get(LANGUAGE_COOKIE))
        context = {"lang": language, "_": translator(language), "message": answer.content["message"]}
        return Template("pages/refused.html", context=context, status_code=answer.status_code)
    return answer


def _answer(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    if isinstance(error, FlowInvalid):
        problems = [problem_words(p) for p in error.problems]
        return _json(422, "flow_invalid", str(error), problems=problems)
    if isinstance(error, EventInvalid):
        return _json(422, "event_invalid", str(error), field=error.field, index=error.index)
    if isinstance(error, SettingInvalid):
        return _json(422, "setting_invalid", str(error), field=error.field)
    if isinstance(error, testsend.Refused):
        return _test_send_refused(error)
    if isinstance(error, BadBody):
        return _json(400, "malformed", str(error))
    if isinstance(error, RecursionError):  # raised by the JSON decoder on absurdly deep nesting
        return _json(400, "malformed", "the body nests too deeply")
    if isinstance(error, NotFound):
        return _json(404, "not_found", str(error))
    if isinstance(error, Conflict):
        return _json(409, "conflict", str(error))
    if isinstance(error, UserError):
        return _json(422, "invalid", str(error))
    if isinstance(error, LoginRequired):
        if request.headers.get("hx-request"):
            return Response(b"", status_code=401, headers={"HX-Redirect": "/login"})
        if _wants_page(request):
            return Redirect(f"/login?next={quote(request.url.path)}", status_code=303)
        return _json(401, "unauthorized", "sign in or send `Authorization: Bearer <token>` (请先登录)")
    if isinstance(error, CsrfRefused):
        return _json(403, "csrf", error.detail)
    if isinstance(error, PermissionDeniedException):
        return _json(403, "forbidden", error.detail)
    if isinstance(error, ValidationException):
        problems = error.extra if isinstance(error.extra, list) else []
        fields = ", ".join(str(p.get("key")) for p in problems if isinstance(p, dict) and p.get("key"))
        message = f"{error.detail}: {fields}" if fields else error.detail
        # A body that decoded but has a field out of its type or range is invalid (422), as a bad
        # flow or event is; a malformed body, query or path stays a bad request (400).
        named = [p for p in problems if isinstance(p, dict) and p.get("key") and p.get("source") == "body"]
        if named and len(named) == len(problems):
            return _json(422, "invalid", message, field=named[0]["key"], problems=problems)
        return _json(400, "bad_request", message, problems=problems)
    if isinstance(error, HTTPException) and error.status_code == 413:
        limit = request.route_handler.resolve_request_max_body_size()
        return _json(413, "too_large", f"the body is larger than the limit of {limit} bytes")
    if isinstance(error, HTTPException) and error.status_code < 500:
        return _json(error.status_code, _HTTP_CODES.get(error.status_code, "error"), error.detail)
    if isinstance(error, DBAPIError) and is_transient(error):
        log.warning("database busy or unavailable on %s %s: %s", request.method, request.url.path, error.orig)
        return Response(
            {"error": "unavailable", "message": BUSY},
            status_code=503,
            media_type="application/json",
            headers={"Retry-After": "5"},
        )
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return _json(HTTP_500_INTERNAL_SERVER_ERROR, "internal", "internal error (内部错误)")


EXCEPTION_HANDLERS = {Exception: error_response}


def _test_send_refused(error: testsend.Refused) -> Response[Any]:
    """A test send refused: 404 or 422 naming the field, said in 简体中文 (`zh`) and English (`en`)."""
    words = problem_words(error.problem) if error.problem is not None else {"zh": error.zh, "en": error.en}
    status, code = (404, "not_found") if error.missing else (422, "invalid")
    return _json(status, code, str(error), field=error.field, zh=words["zh"], en=words["en"])


def decode_json(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as error:
        raise BadBody(f"the body is not valid JSON: {error}") from None


def refuse_nul(value: Any, path: str = "") -> None:
    """The database refuses NUL in text; say which field has one rather than fail later."""
    if isinstance(value, str):
        if "\x00" in value:
            raise UserError(f"{path or 'body'}: NUL characters are not allowed")
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_nul(key, path)
            refuse_nul(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            refuse_nul(item, f"{path}[{index}]")


def convert_body(value: Any, record: type[T], what: str, strict: bool = True) -> list[T]:
    """One record or a list of them from a decoded JSON body, every one checked before any is used;
    a problem is a UserError naming the item and field (`groups[1].capacity: ...`). Forms, whose
    values are all text, convert with `strict=False` ("12" is a number there)."""
    items = value if isinstance(value, list) else [value]
    refuse_nul(items, what)
    try:
        return msgspec.convert(items, list[record], strict=strict)  # type: ignore[valid-type]
    except msgspec.ValidationError as error:
        field, message = validation_message(error)
        if isinstance(value, list):
            field = join_path(what, field)
        else:  # one record: name its field alone
            field = field.split(".", 1)[1] if "." in field else what
        raise UserError(f"{field}: {message}") from None


def path_record(value: dict[str, Any], record: type[T], what: str, key: str, expected: str) -> T:
    """The one record a PUT's body describes, its `key` the path's: a body may leave the key out, but
    naming another is a UserError, as is any field `convert_body` refuses."""
    if value.get(key, expected) != expected:
        raise UserError(f"{key}: `{value[key]}` is not the path's {what} `{expected}`")
    return convert_body({**value, key: expected}, record, what)[0]


def last_by(records: list[T], key: str) -> list[T]:
    """The records as stored when a body repeats a key: the last one of each key, in first-seen order."""
    return list({getattr(r, key): r for r in records}.values())
