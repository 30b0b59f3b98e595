"""`action.webhook`: an outbound HTTP call, recorded in the outbox (the dispatcher sends it)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from msgspec import Meta

from qunflow.sdk import NEXT, Config, Context, Outcome, action

Url = Annotated[str, Meta(max_length=2000, extra_json_schema={"format": "uri"})]


class Webhook(Config):
    url: Url
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    # JSON to send; string values may hold placeholders like {{ member.id }}.
    body: Any = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in self.url):
            raise ValueError(f"`url` must be an http:// or https:// address, not `{self.url[:100]}`")


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
    payload: dict[str, Any] = {"url": ctx.render(config.url), "method": config.method}
    if config.body is not None:
        payload["body"] = _rendered(ctx, config.body)
    ctx.deliver("webhook", payload)
    return NEXT
