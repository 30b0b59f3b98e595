"""`/api/reports/{name}` (DESIGN §17): a report's rows for a period, as JSON or CSV; and
`/api/channels`, the channels operators name and give a cost."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, put
from litestar.params import Body, PathParameter

from qunflow.engine.channel import ChannelRecord
from qunflow.engine.errors import NotFound
from qunflow.engine.rollup import COMMUNITY_TIMEZONE

from ..api.errors import path_record
from ..api.export import Format, csv_download
from ..api.params import TEXT_PATTERN
from ..auth import READ, WRITE, allow
from ..i18n import LANGUAGE_COOKIE, choose_language
from ..services import Services, ServicesDep
from .period import FromDate, Period, ToDate, period
from .registry import REPORTS, Report

ReportName = Annotated[str, PathParameter(pattern=r"^[a-z_]{1,40}$", description="funnel, channels, ...")]
ChannelId = Annotated[str, PathParameter(pattern=TEXT_PATTERN, max_length=200, description="channel id")]
ChannelBody = Annotated[
    dict[str, Any],
    Body(
        title="channel",
        description="`{name?, cost?}`: its name, and what it cost in all (0 or more); an `id` must be "
        "the path's",
    ),
]


class ReportAnswer(msgspec.Struct):
    report: str
    title: dict[str, str]
    period_from: str = msgspec.field(name="from")
    period_to: str = msgspec.field(name="to")
    timezone: str = COMMUNITY_TIMEZONE
    columns: list[dict[str, Any]] = []
    chart: dict[str, Any] = {}
    empty: dict[str, str] = {}
    rows: list[dict[str, Any]] = []


def report_named(name: str) -> Report:
    found = REPORTS.get(name)
    if found is None:
        raise NotFound(f"no report `{name}`; one of {', '.join(REPORTS)} (没有这个报表)")
    return found


def report_rows(services: Services, report: Report, chosen: Period) -> list[dict[str, Any]]:
    return report.run(services.store, chosen.start, chosen.end, services.clock.now())


def answer(services: Services, report: Report, chosen: Period) -> ReportAnswer:
    spec = report.spec()
    return ReportAnswer(
        report=report.name,
        title=spec["title"],
        period_from=chosen.first.isoformat(),
        period_to=chosen.last.isoformat(),
        columns=spec["columns"],
        chart=spec["chart"],
        empty=spec["empty"],
        rows=report_rows(services, report, chosen),
    )


class ReportController(Controller):
    path = "/api/reports"
    tags = ["reports"]

    @get("", guards=[allow(READ)], sync_to_thread=False, summary="The reports there are, with their columns")
    def list_reports(self) -> list[dict[str, Any]]:
        return [r.spec() for r in REPORTS.values()]

    @get(
        "/{name:str}",
        guards=[allow(READ)],
        sync_to_thread=True,
        summary="A report's rows for a period (local dates, both included; default the last 30 days)",
        description="Read from daily rollups kept as the engine runs. `format=csv`: the rows as a CSV "
        "file whose header row is in the page's language.",
    )
    def report(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        name: ReportName,
        period_from: FromDate = None,
        period_to: ToDate = None,
        format: Format = None,
    ) -> ReportAnswer:
        report = report_named(name)
        chosen = period(period_from, period_to, services.clock.now())
        if format != "csv":
            return answer(services, report, chosen)
        language = choose_language(request.cookies.get(LANGUAGE_COOKIE))
        titles = [c.title(language) for c in report.columns]
        rows = [
            {title: row.get(c.key) for title, c in zip(titles, report.columns, strict=True)}
            for row in report_rows(services, report, chosen)
        ]
        filename = f"{report.name}-{chosen.first.isoformat()}-{chosen.last.isoformat()}"
        return csv_download(filename, titles, lambda at, size: rows[at : at + size])  # type: ignore[return-value]


class ChannelController(Controller):
    path = "/api/channels"
    tags = ["channels"]

    @get("", guards=[allow(READ)], sync_to_thread=True, summary="Channels by id, with their costs")
    def list_channels(self, services: ServicesDep) -> list[ChannelRecord]:
        return services.store.list_channels()

    @get("/{channel_id:str}", guards=[allow(READ)], sync_to_thread=True, summary="A channel")
    def get_channel(self, services: ServicesDep, channel_id: ChannelId) -> ChannelRecord:
        return services.store.get_channel(channel_id)

    @put(
        "/{channel_id:str}",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        summary="Create a channel or replace its name and cost",
    )
    def put_channel(self, services: ServicesDep, channel_id: ChannelId, data: ChannelBody) -> ChannelRecord:
        record = path_record(data, ChannelRecord, "channel", "id", channel_id)
        services.store.put_channel(record, services.now_us())
        return record

    @delete(
        "/{channel_id:str}", guards=[allow(WRITE)], sync_to_thread=True, summary="Forget a channel's cost"
    )
    def delete_channel(self, services: ServicesDep, channel_id: ChannelId) -> None:
        services.store.delete_channel(channel_id)


__all__ = ["ChannelController", "ReportController", "answer", "report_named"]
