"""`action.webhook`: an outbound HTTP call, recorded in the outbox (the dispatcher sends it)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit

from msgspec import Meta

from qunflow.sdk import NEXT, Config, Context, Outcome, action, render

Url = Annotated[str, Meta(max_length=2000, extra_json_schema={"format": "uri"})]


class Webhook(Config):
    url: Url
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    # JSON to send; string values may hold placeholders like {{ member.id }}.
    body: Any = None

    def __post_init__(self) -> None:
        literal = _PLACEHOLDER.sub("x", self.url)
        parts = urlsplit(literal)
        if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in literal):
            raise ValueError(f"`url` must be an http:// or https:// address, not `{self.url[:100]}`")
        origin, _, _, _ = _url_parts(self.url)
        if "{{" in origin:
            raise ValueError(
                "`url`: placeholders may stand in the path, query or fragment only, never in the"
                " scheme, host or port / 地址的协议、主机和端口不能含占位符"
            )


_PLACEHOLDER = re.compile(r"\{\{.*?\}\}", re.S)


def _outside_placeholders(text: str, chars: str, start: int = 0) -> int:
    """The index of the first of `chars` in `text` from `start` that is not inside a placeholder, or
    len(text)."""
    spans = [m.span() for m in _PLACEHOLDER.finditer(text)]
    for index in range(start, len(text)):
        if text[index] in chars and not any(a <= index < b for a, b in spans):
            return index
    return len(text)


def _url_parts(template: str) -> tuple[str, str, str, str]:
    """A URL template cut, by the operator's own text, into origin (`scheme://host:port`), path,
    query (with its `?`) and fragment (with its `#`)."""
    after_scheme = template.find("://") + 3 if "://" in template else 0
    path_at = _outside_placeholders(template, "/?#", after_scheme)
    query_at = _outside_placeholders(template, "?#", path_at)
    fragment_at = _outside_placeholders(template, "#", query_at)
    return (
        template[:path_at],
        template[path_at:query_at],
        template[query_at:fragment_at],
        template[fragment_at:],
    )


def _segment(text: str) -> str:
    # A value is one path segment: `/` is encoded, and a bare `.` or `..` cannot climb the path.
    encoded = quote(text, safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


def _component(text: str) -> str:
    # A query value or the fragment: `&`, `=`, `+`, `#` and `?` are data, not structure.
    return quote(text, safe="")


def render_url(template: str, scope: Mapping[str, Any]) -> str:
    """The URL a webhook calls: each placeholder's value percent-encoded for the part of the URL it
    lands in (a path segment, a query value, the fragment), so a value can never change the path,
    add query parameters, or reach another host; the origin is the operator's text alone."""
    origin, path, query, fragment = _url_parts(template)
    return (
        origin
        + render(path, scope, _segment)
        + render(query, scope, _component)
        + render(fragment, scope, _component)
    )


def _rendered(ctx: Context, value: Any) -> Any:
    if isinstance(value, str):
        return ctx.render(value)
    if isinstance(value, list):
        return [_rendered(ctx, v) for v in value]
    if isinstance(value, dict):
        return {k: _rendered(ctx, v) for k, v in value.items()}
    return value


@action(
    "action.webhook",
    title={"zh": "调用 Webhook", "en": "Webhook"},
    description={
        "zh": "向外部系统发 HTTP 请求（内网与本机地址默认拒绝）",
        "en": "Call an external system over HTTP (private and loopback addresses refused unless allowed)",
    },
    icon="link",
)
def webhook(ctx: Context, config: Webhook) -> Outcome:
    payload: dict[str, Any] = {"url": render_url(config.url, ctx.scope()), "method": config.method}
    if config.body is not None:
        payload["body"] = _rendered(ctx, config.body)
    ctx.deliver("webhook", payload)
    return NEXT
