"""Quiet hours, the frequency cap (DESIGN §5) and the cross-flow touch budget (DESIGN §18): when a
`message` delivery may go.

A step asks when it may send; if not now, it returns `WaitUntil(that moment)` and is called again then.
The cap and the budget are one mechanism, a ledger of a member's messages counted in a sliding window
(:func:`room_at`); the cap counts one flow's messages, the budget every flow's messages to the member.
Over the budget a flow's `settings.over_budget` says whether the message waits for room or is skipped.
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


# The run var that says a run waits for the touch budget (the timeline gives it as the reason).
WAIT_REASON = "_wait_reason"
BUDGET = "budget"


def room_at(times: Sequence[datetime], limit: int, per: timedelta) -> datetime | None:
    """With `times` (sorted) counted in a sliding window `per` and at most `limit` allowed: None when
    there is room now, else when the oldest counted one stops counting (room for one more)."""
    if len(times) < limit:
        return None
    return times[len(times) - limit] + per


def capped_until(ctx: Context, members: Sequence[str]) -> dict[str, datetime]:
    """For each member already at the flow's frequency cap: when the oldest counted delivery stops
    counting (the first moment one more message is allowed)."""
    cap = ctx.settings.frequency_cap
    if cap is None or not members:
        return {}
    held: dict[str, datetime] = {}
    for member, times in ctx.message_times(ctx.now - cap.per + _TICK, list(members)).items():
        until = room_at(times, cap.messages, cap.per)
        if until is not None:
            held[member] = until
    return held


def over_budget(ctx: Context, members: Sequence[str]) -> dict[str, datetime]:
    """For each member whose touch budget is full: when it has room for one more message."""
    budget = ctx.touch_budget
    if budget is None or not members:
        return {}
    held: dict[str, datetime] = {}
    for member, times in ctx.touch_times(ctx.now - budget.per + _TICK, list(members)).items():
        until = room_at(times, budget.messages, budget.per)
        if until is not None:
            held[member] = until
    return held


def budget_turn(ctx: Context) -> datetime | None:
    """Under a touch budget, a run that has just reached a message node waits until now: the messages
    due to members at one moment are then made together, by their flows' priority (the engine wakes
    runs due at one moment higher priority first). None: the run has had its turn, there is no
    budget, or every flow has the same priority (then the order is §5's anyway)."""
    if ctx.touch_budget is None or ctx.resumed or not ctx.priorities_differ:
        return None
    return ctx.now


def message_gate(ctx: Context, member: str | None) -> datetime | None:
    """When a message to `member` (None: to a group) may go, if not now. Over the touch budget, a flow
    that waits (`over_budget: wait`) is told when there is room; one that skips is told nothing here
    (see :func:`skips_for_budget`)."""
    waited(ctx)
    quiet = quiet_until(ctx)
    if quiet is not None:
        return quiet
    if member is None:
        return None
    capped = capped_until(ctx, [member]).get(member)
    if capped is not None:
        return capped
    turn = budget_turn(ctx)
    if turn is not None:
        return turn
    if ctx.settings.over_budget == "wait":
        full = over_budget(ctx, [member]).get(member)
        if full is not None:
            ctx.set_var(WAIT_REASON, BUDGET)
            return full
    return None


def skips_for_budget(ctx: Context, member: str | None) -> bool:
    """Whether a message to `member` is not to be made: the budget is full and the flow skips."""
    if member is None or ctx.settings.over_budget != "skip":
        return False
    return member in over_budget(ctx, [member])


def waited(ctx: Context) -> None:
    """The message goes (or is skipped) now: the run no longer waits for the budget."""
    run = ctx.run
    if run is not None and run.vars and WAIT_REASON in run.vars:
        del run.vars[WAIT_REASON]
