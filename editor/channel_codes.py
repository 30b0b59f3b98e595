"""Channel codes (DESIGN §20) over the API and on the pages: a channel's 渠道活码 made with WeCom's
`add_contact_way` (`state` = the channel id, staff chosen by the person who makes it) and a group's
join code made with `groupchat/add_join_way`. Each is made once and kept; asking again answers the
kept code. Admins and operators make them.

| route | what |
| --- | --- |
| `POST /api/channels/{id}/contact-way` `{"staff": [ids]}` | `{channel, config_id, qr_code, staff, ...}` |
| `POST /api/groups/{id}/join-way` | the group's join code `{group, config_id, qr_code, created_at}` |
| `POST /groups/{id}/join-way` (page) | makes it, back to the group page, which shows it |
| `POST /admin/connectors/wecom/contact-way` (page) | makes one, back to the connectors page's WeCom card |

A refusal by WeCom (an unknown group, an untrusted IP) is answered 502 with WeCom's words.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import msgspec
from litestar import Controller, Request, Response, post
from litestar.params import Body, PathParameter
from litestar.response import Redirect

from qunflow.engine.connectors import DeliveryFailed
from qunflow.engine.connectors.wecom.channel_codes import ContactWay, JoinWay
from qunflow.engine.connectors.wecom.connector import WecomConnector
from qunflow.engine.errors import UserError

from .api.params import TEXT_PATTERN
from .auth import ADMIN, WRITE, allow, services_of
from .services import Services, ServicesDep
from .wecom_callback import callback_options

ChannelId = Annotated[str, PathParameter(pattern=TEXT_PATTERN, max_length=200, description="channel id")]
GroupId = Annotated[str, PathParameter(pattern=TEXT_PATTERN, max_length=200, description="group id")]


class ContactWayBody(msgspec.Struct, forbid_unknown_fields=True):
    """The staff a channel code adds (one is picked for each person who scans it)."""

    staff: list[str]


ContactWayData = Annotated[ContactWayBody, Body(title="contact way", description="`{staff: [staff ids]}`")]


def _connector(services: Services) -> WecomConnector:
    """The WeCom connector as configured (404 not installed, 409 not configured)."""
    return WecomConnector.open(callback_options(services), services.connector_context())


def make_contact_way(services: Services, channel: str, staff: list[str]) -> ContactWay:
    connector = _connector(services)
    try:
        return connector.contact_way(channel, staff)
    finally:
        connector.close()


def make_join_way(services: Services, group: str) -> JoinWay:
    services.store.get_group(group)  # 404 for a group the store does not know
    connector = _connector(services)
    try:
        return connector.join_way(group)
    finally:
        connector.close()


def _refused_by_wecom(error: DeliveryFailed) -> Response[Any]:
    return Response({"error": "wecom", "message": str(error)}, status_code=502, media_type="application/json")


class ChannelCodeController(Controller):
    path = "/api"
    tags = ["channels"]
    guards = [allow(WRITE)]

    @post(
        "/channels/{channel_id:str}/contact-way",
        sync_to_thread=True,
        status_code=200,
        summary="Make the channel's 渠道活码 with WeCom (once; the kept one after that)",
    )
    def contact_way(self, services: ServicesDep, channel_id: ChannelId, data: ContactWayData) -> Any:
        try:
            return make_contact_way(services, channel_id, data.staff)
        except DeliveryFailed as error:
            return _refused_by_wecom(error)

    @post(
        "/groups/{group_id:str}/join-way",
        sync_to_thread=True,
        status_code=200,
        summary="Make the group's join code with WeCom (once; the kept one after that)",
    )
    def join_way(self, services: ServicesDep, group_id: GroupId) -> Any:
        try:
            return make_join_way(services, group_id)
        except DeliveryFailed as error:
            return _refused_by_wecom(error)


class ChannelCodePages(Controller):
    path = "/"
    guards = [allow(WRITE)]
    include_in_schema = False

    @post("/groups/{group_id:str}/join-way")
    async def join_way(self, request: Request[Any, Any, Any], group_id: GroupId) -> Response[Any]:
        services = services_of(request)
        try:
            await anyio.to_thread.run_sync(make_join_way, services, group_id)
        except DeliveryFailed as error:
            raise UserError(f"企业微信未能生成入群二维码 (WeCom refused): {error}") from None
        return Redirect(f"/groups/{group_id}#qf-join-way", status_code=303)

    @post("/admin/connectors/wecom/contact-way", guards=[allow(ADMIN)])
    async def contact_way(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        channel = str(form.get("channel") or "").strip()
        staff = [s.strip() for s in str(form.get("staff") or "").replace("，", ",").split(",") if s.strip()]
        services = services_of(request)
        try:
            await anyio.to_thread.run_sync(make_contact_way, services, channel, staff)
        except DeliveryFailed as error:
            raise UserError(f"企业微信未能生成渠道活码 (WeCom refused): {error}") from None
        return Redirect("/admin/connectors#qf-contact-ways", status_code=303)


__all__ = ["ChannelCodeController", "ChannelCodePages", "make_contact_way", "make_join_way"]
