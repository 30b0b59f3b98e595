"""Whether member tag changes become `tag` deliveries (DESIGN §19): only while the route for `tag`
leads to a connector that makes them in the outside world (not the recording connector, not
unrouted). The engine asks once per batch (one read of the settings' version), and reads the route
again only when that version moved; member tags are compared only while the answer is yes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import ConnectorType
from .plugins import delivers, installed_connectors

TAG = "tag"


class TagRoute:
    """Answers :meth:`on` from the store's settings version and `tag` route."""

    def __init__(self, types: Mapping[str, ConnectorType] | None = None) -> None:
        self._types = dict(types) if types is not None else None
        self._version: int | None = None
        self._on = False

    def on(self, store: Any, conn: Any) -> bool:
        """Whether `tag` is routed to a connector that syncs tags, as the store says now."""
        version = store.connector_version(conn)
        if version != self._version:
            name = store.tag_route(conn)
            kind = self._type(name) if name else None
            self._on = kind is not None and TAG in kind.kinds and delivers(kind)
            self._version = version
        return self._on

    def _type(self, name: str) -> ConnectorType | None:
        if self._types is None:  # read once, and only once some route names a connector
            self._types = installed_connectors()
        return self._types.get(name)


def tag_changes(before: list[str], after: list[str]) -> dict[str, list[str]] | None:
    """A `tag` delivery's payload, `{"add": [names], "remove": [names]}`, or None when equal."""
    add = [tag for tag in after if tag not in before]
    remove = [tag for tag in before if tag not in after]
    return {"add": add, "remove": remove} if add or remove else None


__all__ = ["TagRoute", "tag_changes"]
