"""The reports (DESIGN §17) as data: a name, a rows function, its columns with their titles in 简体中文
and English, and the chart a page draws. The JSON API, the CSV download and the pages are made from
these definitions alone, so a report is one :func:`register` call.

A rows function takes `(store, start, end)`: the period as timezone-aware datetimes, local midnights in
the community's timezone, `start` included and `end` not. One that also takes a keyword `now` gets the
current moment (for "now" figures such as members active in the last seven days). It returns one dict
per row, keyed by the columns' keys.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Rows = Callable[..., list[dict[str, Any]]]
# How a column's values read: a local date, text, a count, money, a share (0–1), any number.
Kind = Literal["day", "text", "count", "money", "share", "number"]


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    kind: Kind = "count"

    def title(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


@dataclass(frozen=True)
class Chart:
    """What a page draws: `kind` `line` (one line per series, by the rows' order) or `bar` (grouped
    bars per row); `x` labels the rows (rows with the same label are added up: a day's deliveries of
    every kind); `series` are the columns drawn; at most `limit` labels (the first ones: a ranked
    report puts its best first). `name`, when given, is the column whose value the axis shows for a
    row (a group's name rather than its id), where it has one."""

    kind: Literal["line", "bar"]
    x: str
    series: tuple[str, ...]
    limit: int = 30
    name: str | None = None


@dataclass(frozen=True)
class Report:
    name: str
    title_zh: str
    title_en: str
    rows: Rows
    columns: tuple[Column, ...]
    chart: Chart
    # What the page says when there are no rows: what to do to have some (zh, en).
    empty_zh: str = "所选时间内没有数据。"
    empty_en: str = "No data in this period."
    takes_now: bool = field(default=False, compare=False)

    def title(self, language: str) -> str:
        return self.title_zh if language == "zh" else self.title_en

    def empty(self, language: str) -> str:
        return self.empty_zh if language == "zh" else self.empty_en

    def run(self, store: Any, start: Any, end: Any, now: Any) -> list[dict[str, Any]]:
        if self.takes_now:
            return self.rows(store, start, end, now=now)
        return self.rows(store, start, end)

    def spec(self) -> dict[str, Any]:
        """The definition as the API and the page script read it."""
        return {
            "name": self.name,
            "title": {"zh": self.title_zh, "en": self.title_en},
            "columns": [
                {"key": c.key, "title": {"zh": c.zh, "en": c.en}, "kind": c.kind} for c in self.columns
            ],
            "chart": {
                "kind": self.chart.kind,
                "x": self.chart.x,
                "series": list(self.chart.series),
                "limit": self.chart.limit,
                "name": self.chart.name,
            },
            "empty": {"zh": self.empty_zh, "en": self.empty_en},
        }


REPORTS: dict[str, Report] = {}


def register(
    name: str,
    rows: Rows,
    columns: Sequence[Column],
    chart: Chart,
    title: tuple[str, str],
    empty: tuple[str, str] | None = None,
) -> Report:
    """Add a report: its name (the URL's), rows function, columns, chart, title and empty-state text
    as (zh, en). Registering a name again replaces it."""
    takes_now = "now" in inspect.signature(rows).parameters
    report = Report(
        name, title[0], title[1], rows, tuple(columns), chart, *(empty or ()), takes_now=takes_now
    )
    keys = {c.key for c in report.columns}
    missing = [k for k in (chart.x, *chart.series, *([chart.name] if chart.name else [])) if k not in keys]
    if missing:
        raise ValueError(f"report `{name}`: the chart names columns it does not have: {', '.join(missing)}")
    REPORTS[name] = report
    return report


__all__ = ["REPORTS", "Chart", "Column", "Report", "register"]
