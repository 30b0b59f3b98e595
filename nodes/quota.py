"""Quiet hours and the frequency cap (DESIGN §5): they hold `message` deliveries back, never drop them.

A step asks when it may send; if not now, it returns `WaitUntil(that moment)` and is called again then.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from qunflow.sdk import Context, in_window, next_time_of_day, parse_time

# A delivery made at `d` counts while `now < d + per`: it is in the window when `d > now - per`.
_TICK = timedelta(microseconds=1)


def quiet_until(ctx: Context, at: datetime | None = None) -> datetime | None:
    """The end of the flow's quiet hours if `at` (default: now) is inside them, else None."""
    quiet = ctx.settings.quiet_hours
    if quiet is None:
        return None
    moment = ctx.now if at is None else at
    start, end = parse_time(quiet.start), parse_time(quiet.end)
    if start == end or not in_window(moment, start, end, ctx.tz):
        return None
    return next_time_of_day(moment, end, ctx.tz)


def outside_quiet_hours(ctx: Context, at: datetime) -> datetime:
    """`at`, or the end of the flow's quiet hours when `at` falls inside them: when something the
    engine chose to put off (not the member's own timing) may go without waking anyone."""
    return quiet_until(ctx, at) or at


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
