"""`GET /api/nodes`: the node registry, from which the editor builds its palette and forms."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get

from ..auth import READ, allow
from ..services import ServicesDep


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
