"""`POST /api/flows/{flow_id}/nodes/{node_id}/test-send` (测试发送, issue #15): a node's message, from
the flow's draft, sent now to a member or a staff account the operator chooses (engine.testsend).

The answer says what really happened, in the operator's words as well as by status: `recorded`
(已记录（未发送）: no connector is routed for the kind), `sent`, `awaiting_confirmation` (a WeCom mass
send: the staff member must tap 发送), `skipped` (with its reason, `quota`), `pending` (a failure that
is retried) or `failed`; and where the delivery is on the deliveries page, marked as a test.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, post
from litestar.params import JSONBody, PathParameter
from msgspec import Meta

from qunflow.engine import testsend
from qunflow.engine.errors import NotFound

from ..auth import WRITE, allow
from ..i18n import LANGUAGE_COOKIE, choose_language, translator
from ..services import Services, ServicesDep
from .deliveries import delivery_view
from .params import FLOW_ID_PATTERN, TEXT_PATTERN, FlowId
from .views import DeliveryView

NodeId = Annotated[str, PathParameter(pattern=FLOW_ID_PATTERN, description="node id")]
Recipient = Annotated[str, Meta(min_length=1, max_length=200, pattern=TEXT_PATTERN)]


class TestSendRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Who gets the test: a `member` (the message rendered with their data), or a `staff` account
    (with `member` too, the placeholders are filled from that member's data)."""

    __test__ = False  # a request, not a test case (pytest collects classes named Test…)

    member: Recipient | None = None
    staff: Recipient | None = None


class TestSendResult(msgspec.Struct):
    """What the test send did: the delivery as stored (`test` is true), its `status`, that status in
    the operator's words (`message`), and the deliveries page at the delivery (`link`)."""

    __test__ = False

    status: str
    message: str
    delivery: DeliveryView
    link: str


# The status of a test send in words; `{error}` is the connector's own message.
STATUS_WORDS = {
    "recorded": "Recorded (not sent): no connector is set up for messages, so nothing left the server.",
    "sent": "Sent.",
    "awaiting_confirmation": "Handed to WeCom as a mass send: it goes out once the staff member taps "
    "Send in WeCom.",
    "skipped": "Not sent: skipped ({reason}).",
    "pending": "Not sent yet: it will be tried again ({error}).",
    "failed": "Not sent: {error}",
    "cancelled": "Cancelled: never sent.",
}


def said(delivery: DeliveryView, language: str) -> str:
    """A test delivery's status in words, in `language`."""
    _ = translator(language)
    words = STATUS_WORDS.get(delivery.status)
    if words is None:
        return _("delivery:" + delivery.status)
    reason = _("reason:" + delivery.reason) if delivery.reason else ""
    return _(words, reason=reason, error=delivery.error or "")


class TestSendController(Controller):
    path = "/api/flows"
    tags = ["flows"]

    @post(
        "/{flow_id:str}/nodes/{node_id:str}/test-send",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Send a node's message now to a member or a staff account, as a test",
        description='Body `{"member": id}` or `{"staff": id}` (with `member` too, the placeholders '
        "are that member's). The node's message is made from the draft's config as its step makes "
        "it and sent now through the connector its kind is routed to; the delivery is kept, marked "
        "`test`, and counted by no frequency cap, touch budget, quota or report. 200 with the "
        "status (`recorded` while no connector is routed; `awaiting_confirmation` for a WeCom mass "
        "send); 404 naming `member`, `staff` or `node` when there is no such one; 422 naming the "
        "field when the node sends no message or its settings are not usable.",
    )
    def test_send(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        flow_id: FlowId,
        node_id: NodeId,
        data: JSONBody[TestSendRequest],
    ) -> TestSendResult:
        now = services.clock.now()
        document = _draft(services, flow_id)
        prepared = testsend.prepare(
            services.store, services.registry, document, node_id, now, member=data.member, staff=data.staff
        )
        with _dispatcher(services) as dispatcher:
            held = services.write(testsend.hold, services.store, prepared, dispatcher.owner, now)
            dispatcher.send_held([held], now)
        delivery = delivery_view(services, held.id)
        language = choose_language(request.cookies.get(LANGUAGE_COOKIE))
        where = urlencode({"flow": flow_id})
        return TestSendResult(
            delivery.status, said(delivery, language), delivery, f"/deliveries?{where}#delivery-{held.id}"
        )


def _draft(services: Services, flow_id: str) -> dict[str, Any]:
    try:
        return services.store.get_flow(flow_id).draft
    except NotFound:
        raise testsend.Refused(
            "flow", f"there is no flow `{flow_id}`", f"找不到流程 {flow_id}", missing=True
        ) from None


def _dispatcher(services: Services) -> Any:
    return testsend.routed_dispatcher(
        services.store,
        services.clock,
        services.connectors,
        services.connector_context(),
        services.engine.hooks,
    )


__all__ = ["TestSendController", "TestSendRequest", "TestSendResult"]
