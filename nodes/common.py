"""Config pieces several built-in nodes share."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta

from qunflow.engine import Context

Name = Annotated[str, Meta(min_length=1, max_length=200)]
Names = Annotated[list[Name], Meta(extra_json_schema={"format": "tags"})]


def where_scope(ctx: Context) -> dict[str, Any]:
    """`where` filters name the event's own fields (`data.amount`, `channel`) or `member.*`/`event.*`."""
    event = ctx.event or {}
    return {
        **event,
        "event": event,
        "member": ctx.member,
        "run": {"vars": (ctx.run.vars or {}) if ctx.run else {}},
    }
