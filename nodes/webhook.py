"""`action.webhook`: an outbound HTTP call, recorded in the outbox (the dispatcher sends it)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from engine import NEXT, Context, Outcome, action

Url = Annotated[str, Meta(pattern=r"^https?://[^\s/?#]+[^\s]*$", max_length=2000)]


class Webhook(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: Url
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    # JSON to send; string values may hold placeholders like {{ member.id }}.
    body: Any = None


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
