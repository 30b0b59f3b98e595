"""What several built-in nodes share: `where` filters' scope (`Name`/`Names` come from the SDK)."""

from __future__ import annotations

from typing import Any

from qunflow.sdk import Context


def where_scope(ctx: Context) -> dict[str, Any]:
    """`where` filters name the event's own fields (`data.amount`, `channel`) or `member.*`/`event.*`."""
    event = ctx.event or {}
    return {
        **event,
        "event": event,
        "member": ctx.member,
        "run": {"vars": (ctx.run.vars or {}) if ctx.run else {}},
    }
