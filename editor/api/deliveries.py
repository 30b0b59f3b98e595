"""`/api/deliveries`: the outbox, newest first, with each delivery's status; an operator retries a
failed delivery or cancels a pending one."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import PathParameter

from qunflow.engine.errors import NotFound

from ..auth import READ, WRITE, allow
from ..services import Services, ServicesDep
from .export import Format, csv_download
from .params import BIGINT_MAX, FlowFilter, Limit, MemberFilter, Offset, text_filter
from .views import DeliveryPage, DeliveryView, page_next

KindFilter = Annotated[str | None, text_filter("kind", "delivery kind: message, coupon, invite, ...")]
StatusFilter = Annotated[
    str | None,
    text_filter(
        "status",
        "pending, sent, failed, recorded (kept by the recording connector: not sent), "
        "awaiting_confirmation, skipped, cancelled",
    ),
]
DeliveryId = Annotated[int, PathParameter(ge=1, le=BIGINT_MAX, description="delivery id")]


def delivery_view(services: Services, delivery_id: int) -> DeliveryView:
    """One delivery as the API shows it; NotFound when there is none with this id."""
    rows = services.store.delivery_page(limit=1, id=delivery_id)
    if not rows:
        raise NotFound(f"no delivery {delivery_id} (找不到投递 {delivery_id})")
    return DeliveryView.of(rows[0])


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

    @post(
        "/{delivery_id:int}/retry",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Send a failed delivery again, now, with the same key",
        description="404 if there is no such delivery; 409 naming its status if it is not `failed`.",
    )
    def retry(self, services: ServicesDep, delivery_id: DeliveryId) -> DeliveryView:
        services.write(services.store.retry_delivery, delivery_id, services.now_us())
        return delivery_view(services, delivery_id)

    @post(
        "/{delivery_id:int}/cancel",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Cancel a pending delivery: it becomes `cancelled` and is never sent",
        description="404 if there is no such delivery; 409 if it is not `pending` (naming its status) "
        "or a dispatcher is sending it right now.",
    )
    def cancel(self, services: ServicesDep, delivery_id: DeliveryId) -> DeliveryView:
        services.write(services.store.cancel_delivery, delivery_id, services.now_us())
        return delivery_view(services, delivery_id)
