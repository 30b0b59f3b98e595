"""`/api/deliveries`: the outbox, newest first, with each delivery's status."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get

from ..auth import READ, allow
from ..services import ServicesDep
from .export import Format, csv_download
from .params import FlowFilter, Limit, MemberFilter, Offset, text_filter
from .views import DeliveryPage, DeliveryView, page_next

KindFilter = Annotated[str | None, text_filter("kind", "delivery kind: message, coupon, invite, ...")]
StatusFilter = Annotated[
    str | None,
    text_filter(
        "status",
        "pending, sent, failed, recorded (kept by the recording connector: not sent), "
        "awaiting_confirmation, skipped",
    ),
]


class DeliveryController(Controller):
    path = "/api/deliveries"
    tags = ["deliveries"]

    @get("", guards=[allow(READ)], sync_to_thread=True, summary="Deliveries, newest first, paged")
    def list_deliveries(
        self,
        services: ServicesDep,
        flow: FlowFilter = None,
        member: MemberFilter = None,
        kind: KindFilter = None,
        status: StatusFilter = None,
        limit: Limit = 50,
        offset: Offset = 0,
        format: Format = None,
    ) -> DeliveryPage:
        if format == "csv":
            return csv_download(  # type: ignore[return-value]
                "deliveries",
                DeliveryView.__struct_fields__,
                lambda at, size: [
                    DeliveryView.of(r)
                    for r in services.store.delivery_page(
                        limit=size, offset=at, flow_id=flow, member_id=member, kind=kind, status=status
                    )
                ],
            )
        rows = services.store.delivery_page(
            limit=limit, offset=offset, flow_id=flow, member_id=member, kind=kind, status=status
        )
        return DeliveryPage(
            [DeliveryView.of(r) for r in rows], limit, offset, page_next(len(rows), limit, offset)
        )
