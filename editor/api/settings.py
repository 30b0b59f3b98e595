"""`/api/settings`: the community settings (DESIGN §18) — the cross-flow touch budget, approval before
large sends, and the calendar of flows that set none. Anyone signed in reads them; admins change them.

`PUT` takes the whole object or a part of it: each field given replaces the stored one, a field given
as `null` is removed (no budget, no approval; the calendar back to `cn`), a field left out is kept. A
bad field is refused (422 naming it) and nothing is stored. Changes reach running processes (serve's
worker, `qunflow worker`) at their next batch, without a restart.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, put
from litestar.params import Body

from qunflow.engine.community_settings import (
    Approval,
    CommunitySettings,
    TouchBudget,
    merged,
    save_settings,
    stored_settings,
)
from qunflow.engine.workdays import CalendarName

from ..auth import ADMIN, READ, allow
from ..services import Services, ServicesDep
from .errors import refuse_nul
from .members import changed_by


class SettingsView(msgspec.Struct):
    """The community settings; `touch_budget` and `approval` are null when not set."""

    touch_budget: TouchBudget | None
    approval: Approval | None
    calendar: CalendarName


def settings_view(settings: CommunitySettings) -> SettingsView:
    return SettingsView(settings.touch_budget, settings.approval, settings.calendar)


SettingsBody = Annotated[
    dict[str, Any],
    Body(
        title="settings",
        description='some or all of `{"touch_budget": {"messages": 2, "per": "P1D"}, "approval": '
        '{"min_reach": 1000}, "calendar": "cn"}`; a field given replaces the stored one, `null` '
        "removes it, a field left out is kept",
    ),
]


def change_settings(services: Services, change: dict[str, Any], by: str) -> CommunitySettings:
    """Merge `change` into the stored settings and store them (a CommunitySettingInvalid naming the
    field, and nothing stored, when a field is refused)."""
    refuse_nul(change)
    settings = merged(stored_settings(services.store), change)
    services.write(save_settings, services.store, settings, services.now_us(), by)
    return settings


class SettingsController(Controller):
    path = "/api/settings"
    tags = ["settings"]

    @get("", guards=[allow(READ)], sync_to_thread=True, summary="The community settings")
    def get_settings(self, services: ServicesDep) -> SettingsView:
        return settings_view(stored_settings(services.store))

    @put(
        "",
        guards=[allow(ADMIN)],
        sync_to_thread=True,
        summary="Change the community settings (admin)",
        description="The whole object or a part of it: a field given replaces the stored one, `null` "
        "removes it, a field left out is kept. 422 naming the field when one is refused.",
    )
    def put_settings(
        self, request: Request[Any, Any, Any], services: ServicesDep, data: SettingsBody
    ) -> SettingsView:
        return settings_view(change_settings(services, data, changed_by(request)))


__all__ = ["SettingsController", "SettingsView", "change_settings", "settings_view"]
