"""Working days (DESIGN §18): which local dates are working days under a flow's `settings.calendar`.

`cn` is mainland China's calendar: public holidays are days off and make-up working days (调休, often
a Saturday or Sunday) are working days, from the `chinese-calendar` package. For a year that package
has no data for, `cn` falls back to `none` (Monday to Friday) and logs that once per year; nothing
fails. `none` is Monday to Friday.
"""

from __future__ import annotations

import logging
from datetime import date
from functools import cache
from typing import Literal

import chinese_calendar

log = logging.getLogger("qunflow.calendar")

CalendarName = Literal["cn", "none"]
# `on` of wait.until_time, trigger.schedule and condition.time_window.
DayKind = Literal["any", "workday", "offday"]


def weekday_is_workday(day: date) -> bool:
    return day.weekday() < 5


@cache
def _fallback_logged(year: int) -> bool:
    log.warning(
        "calendar cn: no holiday data for %d; using Monday to Friday for that year (update chinese-calendar)",
        year,
    )
    return True


@cache
def cn_is_workday(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        _fallback_logged(day.year)
        return weekday_is_workday(day)


def is_workday(day: date, calendar: CalendarName) -> bool:
    """Whether `day` (a local date) is a working day under `calendar`."""
    return cn_is_workday(day) if calendar == "cn" else weekday_is_workday(day)


def day_allowed(day: date, on: DayKind, calendar: CalendarName) -> bool:
    """Whether a local date is of the kind `on` asks for."""
    if on == "any":
        return True
    return is_workday(day, calendar) == (on == "workday")


# What a local date is under a calendar: a working day, a weekend day, a make-up working day on a
# weekend (调休上班) or a day off on a weekday (a public holiday).
DayName = Literal["workday", "weekend", "makeup", "holiday"]


def day_name(day: date, calendar: CalendarName) -> DayName:
    """Whether `day` is a working day or a day off under `calendar`, and whether that differs from
    its weekday (a make-up working day, a public holiday)."""
    working, weekday = is_workday(day, calendar), weekday_is_workday(day)
    if working:
        return "workday" if weekday else "makeup"
    return "holiday" if weekday else "weekend"


__all__ = ["CalendarName", "DayKind", "DayName", "day_allowed", "day_name", "is_workday"]
