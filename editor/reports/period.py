"""A report's period: `from` and `to` as local dates (YYYY-MM-DD, in the community's timezone), both
included; by default the 30 days up to today. A bad one is a 400 naming the field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated

from litestar.exceptions import ValidationException
from litestar.params import QueryParameter

from qunflow.engine.rollup import ZONE

DEFAULT_DAYS = 30
MAX_DAYS = 366
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
FromDate = Annotated[
    str | None,
    QueryParameter(
        name="from", pattern=DATE_PATTERN, required=False, description="first day, YYYY-MM-DD (local)"
    ),
]
ToDate = Annotated[
    str | None,
    QueryParameter(
        name="to", pattern=DATE_PATTERN, required=False, description="last day, YYYY-MM-DD (local)"
    ),
]


def refuse(field: str, message: str) -> ValidationException:
    """A 400 naming the query field."""
    return ValidationException(detail=message, extra=[{"key": field, "message": message, "source": "query"}])


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def start(self) -> datetime:
        """The first day's local midnight."""
        return datetime.combine(self.first, datetime.min.time(), ZONE)

    @property
    def end(self) -> datetime:
        """The local midnight after the last day (not included)."""
        return datetime.combine(self.last + timedelta(days=1), datetime.min.time(), ZONE)


def local_days(start: datetime, end: datetime, now: datetime | None = None) -> tuple[date, date]:
    """A rows function's period as its first and last local dates (the last no later than today's,
    when `now` is given: days to come have no figures)."""
    first = start.astimezone(ZONE).date()
    last = end.astimezone(ZONE).date() - timedelta(days=1)
    if now is not None:
        last = min(last, now.astimezone(ZONE).date())
    return first, last


def _date(field: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise refuse(
            field, f"{field}: `{text}` is not a date (YYYY-MM-DD; 日期格式应为 YYYY-MM-DD)"
        ) from None


def period(first: str | None, last: str | None, now: datetime) -> Period:
    """The period a request asks for; `now` gives today (local) for what it leaves out."""
    today = now.astimezone(ZONE).date()
    end = _date("to", last) if last else today
    start = _date("from", first) if first else end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise refuse("from", f"from: {start} is after to {end} (开始日期晚于结束日期)")
    if (end - start).days + 1 > MAX_DAYS:
        raise refuse(
            "from", f"from: at most {MAX_DAYS} days from `from` to `to` (时间范围最多 {MAX_DAYS} 天)"
        )
    if start.year < 1971 or end.year > 8999:
        raise refuse("from" if start.year < 1971 else "to", "dates from 1971 to 8999 (日期超出范围)")
    return Period(start, end)


__all__ = ["MAX_DAYS", "FromDate", "Period", "ToDate", "local_days", "period", "refuse"]
