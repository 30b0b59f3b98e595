"""`/api/nodes`: the node registry, from which the editor builds its palette and forms; and the next
moments a node would pick on the wall clock, which the editor shows in the node's panel."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from litestar import Controller, get, post
from litestar.params import JSONBody
from msgspec import Meta

from qunflow.engine.community_settings import stored_settings
from qunflow.engine.errors import UserError, validation_message
from qunflow.engine.flow import Settings
from qunflow.engine.moments import Moment, next_moments

from ..auth import READ, allow
from ..services import ServicesDep


class MomentsRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A node as it is being edited, and the flow's timezone and settings (its `calendar`)."""

    type: str
    config: dict[str, Any] = {}
    timezone: str = "Asia/Shanghai"
    settings: dict[str, Any] = {}
    # From when (default: now); a run arriving then, for a wait.
    after: Annotated[datetime, Meta(tz=True)] | None = None
    count: Annotated[int, Meta(ge=1, le=10)] = 3


class Moments(msgspec.Struct, frozen=True):
    """The next moments, first first; empty for a node that picks no moment of the clock."""

    type: str
    timezone: str
    moments: list[Moment]


class NodeController(Controller):
    path = "/api/nodes"
    tags = ["nodes"]

    @get(
        "",
        guards=[allow(READ)],
        sync_to_thread=False,
        summary="Node types: type, kind, ports, titles (zh/en), JSON Schema of the config",
    )
    def list_nodes(self, services: ServicesDep) -> list[dict[str, Any]]:
        return [node_type.describe() for node_type in services.registry]

    @post(
        "/moments",
        guards=[allow(READ)],
        sync_to_thread=True,
        status_code=200,
        summary="The next moments a node would pick (a wait until a time, a schedule, a time window)",
        description="Body: the node's `type` and `config`, the flow's `timezone` and `settings` "
        "(`calendar`), optionally `after` (default: now) and `count` (1–10, default 3). Computed by "
        "the node's own step under the flow's working-day calendar; each moment says whether its day "
        "is a working day, a weekend, a make-up working day or a holiday. 422 naming the field.",
    )
    def moments(self, services: ServicesDep, data: JSONBody[MomentsRequest]) -> Moments:
        node_type = services.registry.get(data.type)
        if node_type is None:
            raise UserError(f"type: unknown node type `{data.type}`")
        try:
            ZoneInfo(data.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise UserError(f"timezone: unknown timezone `{data.timezone}`") from None
        config = _decoded(data.config, node_type.config, "config")
        settings = _decoded(data.settings, Settings, "settings")
        if settings.calendar is None:  # the flow follows the community's calendar (DESIGN §18)
            calendar = stored_settings(services.store).calendar
            settings = msgspec.structs.replace(settings, calendar=calendar)
        after = data.after or services.clock.now()
        found = next_moments(node_type, config, data.timezone, settings, after, data.count)
        return Moments(data.type, data.timezone, found)


def _decoded(value: dict[str, Any], kind: type[Any], field: str) -> Any:
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as error:
        path, message = validation_message(error)
        raise UserError(f"{field}.{path}: {message}" if path else f"{field}: {message}") from None
