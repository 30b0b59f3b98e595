"""`/admin/settings`: the community settings page for admins (DESIGN §18), beside `/api/settings`;
and the flows list's approve / reject buttons for admins.

The settings form is one htmx fragment that owns itself: it posts itself and is replaced by the
saved form (or, refused, the page says which field and why). Without scripts it posts and comes back.
"""

from __future__ import annotations

from typing import Any

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.response import Redirect, Template

from qunflow.engine.approval import SameRequester, decide
from qunflow.engine.community_settings import CommunitySettingInvalid, CommunitySettings, stored_settings

from .api.members import changed_by
from .api.params import FlowId
from .api.settings import change_settings
from .auth import ADMIN, allow, services_of
from .pages import _flow_row, page_context


def form_values(settings: CommunitySettings) -> dict[str, str]:
    """The settings as the form shows them: empty text where a setting is not set."""
    budget, approval = settings.touch_budget, settings.approval
    return {
        "budget_messages": str(budget.messages) if budget else "",
        "budget_per": msgspec.json.encode(budget.per).decode().strip('"') if budget else "",
        "min_reach": str(approval.min_reach) if approval else "",
        "calendar": settings.calendar,
    }


def _whole(form: dict[str, str], name: str, field: str) -> int | None:
    text = form.get(name, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise CommunitySettingInvalid(field, f"`{text}` is not a whole number (请填写整数)") from None


def change_from_form(form: dict[str, str]) -> dict[str, Any]:
    """The settings a submitted form asks for: an empty number turns its setting off."""
    messages = _whole(form, "budget_messages", "touch_budget.messages")
    per = form.get("budget_per", "").strip()
    if messages is None and per:
        raise CommunitySettingInvalid("touch_budget.messages", "give the number of messages (请填写条数)")
    reach = _whole(form, "min_reach", "approval.min_reach")
    return {
        "touch_budget": {"messages": messages, "per": per or "P1D"} if messages is not None else None,
        "approval": {"min_reach": reach} if reach is not None else None,
        "calendar": form.get("calendar") or "cn",
    }


class SettingsPage(Controller):
    path = "/admin/settings"
    guards = [allow(ADMIN)]
    include_in_schema = False

    @get("")
    async def settings(self, request: Request[Any, Any, Any]) -> Template:
        found = await anyio.to_thread.run_sync(stored_settings, services_of(request).store)
        context = await page_context(request, values=form_values(found), saved=False)
        return Template("pages/settings.html", context=context)

    @post("")
    async def save(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        services = services_of(request)
        saved = await anyio.to_thread.run_sync(
            change_settings, services, change_from_form(form), changed_by(request)
        )
        if not request.headers.get("hx-request"):
            return Redirect("/admin/settings", status_code=303)
        context = await page_context(request, values=form_values(saved), saved=True)
        return Template("pages/settings_form.html", context=context)


class ApprovalPages(Controller):
    """The flows list's buttons for a version waiting for approval (admins, not the requester)."""

    path = "/flows"
    guards = [allow(ADMIN)]
    include_in_schema = False

    @post("/{flow_id:str}/approve")
    async def approve(self, request: Request[Any, Any, Any], flow_id: FlowId) -> Template:
        return await self._decide(request, flow_id, True, None)

    @post("/{flow_id:str}/reject")
    async def reject(self, request: Request[Any, Any, Any], flow_id: FlowId) -> Template:
        reason = (await request.form()).get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise CommunitySettingInvalid("reason", "say why the version is rejected (请填写驳回原因)")
        return await self._decide(request, flow_id, False, reason.strip()[:2000])

    async def _decide(
        self, request: Request[Any, Any, Any], flow_id: str, approved: bool, reason: str | None
    ) -> Template:
        services = services_of(request)
        try:
            await anyio.to_thread.run_sync(
                services.write, decide, services.engine, flow_id, changed_by(request), approved, reason
            )
        except SameRequester as error:
            raise PermissionDeniedException(str(error)) from None
        row = await anyio.to_thread.run_sync(_flow_row, services, flow_id)
        return Template("pages/flow_row.html", context=await page_context(request, flow=row))


__all__ = ["ApprovalPages", "SettingsPage", "change_from_form", "form_values"]
