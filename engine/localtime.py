"""Wall-clock times in a flow's timezone, with the two DST edge cases made explicit:
a skipped local time means the first valid moment after it, a repeated one means its first occurrence.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def local_moment(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC moment of `day` at wall time `at` in `tz`."""
    wall = datetime.combine(day, at)
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    # `at` does not exist that day (clocks jumped forward): the first valid moment after the gap.
    earliest = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    low, high = min(first, earliest), max(first, earliest)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0) if high.microsecond else high


# How far ahead a time of day is looked for: a year and a week covers any weekday that is also a
# working day or a day off under any calendar.
SEARCH_DAYS = 373


def next_time_of_day(
    after: datetime,
    at: time,
    tz: ZoneInfo,
    days: tuple[str, ...] | None = None,
    day_ok: Callable[[date], bool] | None = None,
) -> datetime | None:
    """The first moment at or after `after` when the wall clock in `tz` shows `at` on an allowed
    weekday (`days`) whose local date `day_ok` accepts (a working-day rule); None if there is none
    within a year."""
    start = after.astimezone(tz).date()
    for offset in range(0, SEARCH_DAYS if day_ok else 9):
        day = start + timedelta(days=offset)
        if days and WEEKDAYS[day.weekday()] not in days:
            continue
        if day_ok is not None and not day_ok(day):
            continue
        moment = local_moment(day, at, tz)
        if moment >= after:
            return moment
    return None


def in_window(
    moment: datetime,
    start: time,
    end: time,
    tz: ZoneInfo,
    days: tuple[str, ...] | None = None,
    day_ok: Callable[[date], bool] | None = None,
) -> bool:
    """Whether the wall clock at `moment` is within [start, end) on an allowed weekday whose local
    date `day_ok` accepts; windows may cross midnight (the day is the one the window opened on)."""
    local = moment.astimezone(tz)
    now = local.time().replace(tzinfo=None)
    if start <= end:
        inside = start <= now < end
        day = local.date()
    else:
        inside = now >= start or now < end
        day = local.date() if now >= start else local.date() - timedelta(days=1)
    return inside and (not days or WEEKDAYS[day.weekday()] in days) and (day_ok is None or day_ok(day))
