"""Quiet hours and the frequency cap (DESIGN §5): they hold `message` deliveries back, never drop them.

A step asks when it may send; if not now, it returns `WaitUntil(that moment)` and is called again then.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from qunflow.sdk import Context, in_window, next_time_of_day, parse_time

# A delivery made at `d` counts while `now < d + per`: it is in the window when `d > now - per`.
_TICK = timedelta(microseconds=1)


def quiet_until(ctx: Context) -> datetime | None:
    """The end of the flow's quiet hours if now is inside them, else None."""
    quiet = ctx.settings.quiet_hours
    if quiet is None:
        return None
    start, end = parse_time(quiet.start), parse_time(quiet.end)
    if start == end or not in_window(ctx.now, start, end, ctx.tz):
        return None
    return next_time_of_day(ctx.now, end, ctx.tz)


def capped_until(ctx: Context, members: Sequence[str]) -> dict[str, datetime]:
    """For each member already at the flow's frequency cap: when the oldest counted delivery stops
    counting (the first moment one more message is allowed)."""
    cap = ctx.settings.frequency_cap
    if cap is None or not members:
        return {}
    held: dict[str, datetime] = {}
    for member, times in ctx.message_times(ctx.now - cap.per + _TICK, list(members)).items():
        if len(times) >= cap.messages:
            held[member] = times[len(times) - cap.messages] + cap.per
    return held


def message_gate(ctx: Context, member: str | None) -> datetime | None:
    """When a message to `member` (None: to a group) may go, if not now."""
    quiet = quiet_until(ctx)
    if quiet is not None:
        return quiet
    if member is None:
        return None
    return capped_until(ctx, [member]).get(member)
