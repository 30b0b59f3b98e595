"""The deliveries page (投递, issue #15): what was sent, recorded, skipped or failed, filtered by flow,
member, kind and status; an operator retries a failed delivery or cancels a pending one.

Statuses are said as they are (DESIGN §19): a delivery the recording connector kept is "recorded
(not sent)", never "sent". Retry and cancel go through the same store calls as the JSON API, so a
cancel cannot race a dispatcher that is sending the delivery.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter
from litestar.response import Redirect, Template

from qunflow.engine.connectors import ROUTABLE_KINDS
from qunflow.engine.errors import UserError
from qunflow.engine.store.leases import DELIVERY_STATUSES

from .api.deliveries import DeliveryId, delivery_view
from .api.params import text_filter
from .api.views import DeliveryView
from .auth import READ, WRITE, allow, services_of
from .member_lookup import look_up_member
from .names import Names
from .pages import ANY_TEXT, page_context
from .services import Services
from .wording import group_ids, payload_summary

DELIVERIES_PAGE = 50


class DeliveryPages(Controller):
    path = "/deliveries"
    include_in_schema = False

    @get("", guards=[allow(READ)])
    async def deliveries(
        self,
        request: Request[Any, Any, Any],
        flow: Annotated[str | None, text_filter("flow", "flow id", ANY_TEXT)] = None,
        member: Annotated[str | None, text_filter("member", "member id or name", ANY_TEXT)] = None,
        kind: Annotated[str | None, text_filter("kind", "delivery kind", ANY_TEXT)] = None,
        status: Annotated[str | None, text_filter("status", "delivery status", ANY_TEXT)] = None,
        offset: Annotated[int, Parameter(ge=0, le=10_000_000)] = 0,
    ) -> Template:
        if status and status not in DELIVERY_STATUSES:
            raise UserError(f"status: one of {', '.join(DELIVERY_STATUSES)}")
        context = await page_context(request)
        services = services_of(request)
        who = await anyio.to_thread.run_sync(look_up_member, services, member)
        # Filtered by her id once she is found: the operator may have typed her name.
        member = who.member_id or who.typed
        filters = {"flow": flow or "", "member": member, "kind": kind or "", "status": status or ""}
        rows, names = await anyio.to_thread.run_sync(
            _page, services, context["lang"], filters, offset, who.which
        )
        context.update(
            deliveries=rows,
            names=names,
            filters=filters,
            who=who,
            kinds=ROUTABLE_KINDS,
            statuses=DELIVERY_STATUSES,
            offset=offset,
            next_offset=offset + DELIVERIES_PAGE if len(rows) == DELIVERIES_PAGE else None,
            # The API's CSV of every matching delivery (its filters take no empty values).
            csv_query=urlencode({"format": "csv", **{k: v for k, v in filters.items() if v}}),
            more_query=urlencode({**filters, "offset": offset + DELIVERIES_PAGE}),
            summary=lambda payload: payload_summary(payload, names),
        )
        hx = request.headers.get("hx-request")
        context["partial"] = bool(hx)
        return Template("pages/deliveries_table.html" if hx else "pages/deliveries.html", context=context)

    @post("/{delivery_id:int}/retry", guards=[allow(WRITE)])
    async def retry(self, request: Request[Any, Any, Any], delivery_id: DeliveryId) -> Response[Any]:
        """Send a failed delivery again now."""
        services = services_of(request)
        now = services.now_us()
        await anyio.to_thread.run_sync(services.write, services.store.retry_delivery, delivery_id, now)
        return await self._row(request, delivery_id)

    @post("/{delivery_id:int}/cancel", guards=[allow(WRITE)])
    async def cancel(self, request: Request[Any, Any, Any], delivery_id: DeliveryId) -> Response[Any]:
        """Withdraw a pending delivery: it is never sent."""
        services = services_of(request)
        now = services.now_us()
        await anyio.to_thread.run_sync(services.write, services.store.cancel_delivery, delivery_id, now)
        return await self._row(request, delivery_id)

    async def _row(self, request: Request[Any, Any, Any], delivery_id: int) -> Response[Any]:
        """The changed row for htmx; the list again for a plain form."""
        if not request.headers.get("hx-request"):
            return Redirect(f"/deliveries#delivery-{delivery_id}", status_code=303)
        context = await page_context(request)
        services = services_of(request)
        delivery = await anyio.to_thread.run_sync(delivery_view, services, delivery_id)
        names = await anyio.to_thread.run_sync(_names, services, context["lang"], [delivery])
        context.update(
            delivery=delivery, names=names, summary=lambda payload: payload_summary(payload, names)
        )
        return Template("pages/delivery_row.html", context=context)


def _page(
    services: Services, language: str, filters: dict[str, str], offset: int, which: bool
) -> tuple[list[DeliveryView], Names]:
    """A page of the deliveries the filters ask for — none while the operator has to say `which` of
    several members she means — and the names they need."""
    if which:
        return [], _names(services, language, [])
    rows = services.store.delivery_page(
        limit=DELIVERIES_PAGE,
        offset=offset,
        flow_id=filters["flow"] or None,
        member_id=filters["member"] or None,
        kind=filters["kind"] or None,
        status=filters["status"] or None,
    )
    found = [DeliveryView.of(r) for r in rows]
    return found, _names(services, language, found)


def _names(services: Services, language: str, deliveries: list[DeliveryView]) -> Names:
    return Names.load(
        services,
        language,
        nodes=[(d.flow, None, d.node) for d in deliveries],
        members=[d.member for d in deliveries],
        groups=[g for d in deliveries for g in group_ids(d.payload)],
        staff=[s for d in deliveries if isinstance(s := d.payload.get("staff"), str)],
    )


__all__ = ["DeliveryPages"]
