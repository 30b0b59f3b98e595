"""The report pages (报表, DESIGN §17) and the channels page (渠道) where operators enter costs.

A report page renders its table on the server; its chart is drawn by `reports.js` (uPlot), which
reads the same rows from the JSON API named in the chart's `data-report` attribute, so the page
keeps the strict Content-Security-Policy (no inline script).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.params import PathParameter
from litestar.response import Redirect, Template

from qunflow.engine.channel import ChannelRecord
from qunflow.engine.rollup import CHANNEL, COMMUNITY_TIMEZONE, NO_CHANNEL

from ..api.errors import convert_body
from ..api.params import TEXT_PATTERN
from ..auth import READ, WRITE, allow, services_of
from ..pages import page_context
from ..services import Services
from .api import report_named, report_rows
from .period import FromDate, ToDate, period
from .registry import REPORTS

# The rows a page's table shows; the CSV has them all.
TABLE_ROWS = 200
ReportName = Annotated[str, PathParameter(pattern=r"^[a-z_]{1,40}$", description="report")]
ChannelKey = Annotated[str, PathParameter(pattern=TEXT_PATTERN, max_length=200, description="channel id")]


def cell(value: Any, kind: str) -> str:
    """A value as a table cell reads it."""
    if value is None:
        return "—"
    if kind == "share":
        return f"{value * 100:.1f}%"
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "number":
        return f"{value:g}"
    if kind == "count":
        return f"{value:,}"
    return str(value)


class ReportPages(Controller):
    path = "/reports"
    include_in_schema = False

    @get("", guards=[allow(READ)])
    async def first(self) -> Redirect:
        return Redirect(f"/reports/{next(iter(REPORTS))}", status_code=303)

    @get("/{name:str}", guards=[allow(READ)])
    async def report(
        self,
        request: Request[Any, Any, Any],
        name: ReportName,
        period_from: FromDate = None,
        period_to: ToDate = None,
    ) -> Template:
        report = report_named(name)
        services = services_of(request)
        chosen = period(period_from, period_to, services.clock.now())
        rows = await anyio.to_thread.run_sync(report_rows, services, report, chosen)
        query = {"from": chosen.first.isoformat(), "to": chosen.last.isoformat()}
        context = await page_context(
            request,
            report=report,
            reports=list(REPORTS.values()),
            rows=rows[:TABLE_ROWS],
            row_count=len(rows),
            period=chosen,
            timezone=COMMUNITY_TIMEZONE,
            data_url=f"/api/reports/{report.name}?{urlencode(query)}",
            csv_url=f"/api/reports/{report.name}?{urlencode({**query, 'format': 'csv'})}",
            cell=cell,
        )
        return Template("pages/report.html", context=context)


class ChannelPages(Controller):
    path = "/channels"
    include_in_schema = False

    @get("", guards=[allow(READ)])
    async def listing(self, request: Request[Any, Any, Any]) -> Template:
        services = services_of(request)
        channels = await anyio.to_thread.run_sync(_channels, services)
        context = await page_context(request, channels=channels, cell=cell)
        return Template("pages/channels.html", context=context)

    @post("", guards=[allow(WRITE)])
    async def save(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Create a channel or replace its name and cost; empty fields are left out."""
        form = await request.form()
        values = {
            k: str(form.get(k, "")).strip() for k in ("id", "name", "cost") if str(form.get(k, "")).strip()
        }
        record = convert_body(values, ChannelRecord, "channel", strict=False)[0]
        services = services_of(request)
        await anyio.to_thread.run_sync(services.store.put_channel, record, services.now_us())
        return Redirect("/channels", status_code=303)

    @post("/{key:str}/delete", guards=[allow(WRITE)])
    async def remove(self, request: Request[Any, Any, Any], key: ChannelKey) -> Response[Any]:
        await anyio.to_thread.run_sync(services_of(request).store.delete_channel, key)
        return Redirect("/channels", status_code=303)


def _channels(services: Services) -> list[dict[str, Any]]:
    """Every channel with a cost entered, and every channel members came through that has none yet."""
    entered = {c.id: c for c in services.store.list_channels()}
    seen = {key for key, _, _ in services.store.sum_stats(CHANNEL, None, None)} - {NO_CHANNEL}
    return [
        {
            "id": channel,
            "name": entered[channel].name if channel in entered else None,
            "cost": entered[channel].cost if channel in entered else None,
        }
        for channel in sorted({*entered, *seen})
    ]


__all__ = ["ChannelPages", "ReportPages"]
