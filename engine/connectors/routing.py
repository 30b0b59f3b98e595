"""Which connector takes a delivery of each kind: fixed (tests, tools), or as admins configured it.

:class:`ConfiguredRoutes` is what `qunflow serve` and `qunflow worker` send through: it opens the
connectors the stored routes name and opens them again whenever the settings version changes, so a
change made on the connectors page reaches every running process at its next batch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Protocol

from ..errors import UserError
from .base import Connector, ConnectorContext, Unavailable
from .recording import RecordingConnector
from .settings import DEFAULT_CONNECTOR, ConnectorSettings

log = logging.getLogger("qunflow.connectors")


class Router(Protocol):
    """What the dispatcher asks: look again at the settings, and who takes a kind."""

    def refresh(self) -> None: ...

    def connector_for(self, kind: str) -> Connector: ...

    def connectors(self) -> list[Connector]: ...


class FixedRoutes:
    """`default` takes every kind without a connector of its own in `routes`."""

    def __init__(
        self, default: Connector | None = None, routes: Mapping[str, Connector] | None = None
    ) -> None:
        self.default: Connector = default or RecordingConnector()
        self.routes = dict(routes or {})

    def refresh(self) -> None:
        pass

    def connector_for(self, kind: str) -> Connector:
        return self.routes.get(kind, self.default)

    def connectors(self) -> list[Connector]:
        """Every connector some kind goes to, once each."""
        return list({id(c): c for c in (self.default, *self.routes.values())}.values())


class ConfiguredRoutes:
    """The routes and connector options in the store; kinds without a route go to `recording`."""

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        self.settings = settings
        self.context = context
        self._version: int | None = None
        self._by_kind: dict[str, Connector] = {}
        self._default: Connector = Unavailable(DEFAULT_CONNECTOR, "connectors not loaded yet")
        # The dispatcher's sending and polling threads both refresh: one opens, the other waits.
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Open the connectors again if the settings changed since the last look."""
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        version = self.settings.version()
        if version == self._version:
            return
        opened: dict[str, Connector] = {}
        stored = self.settings.stored()
        routes = self.settings.routes()
        for name in {*routes.values(), DEFAULT_CONNECTOR}:
            opened[name] = self._open(name, stored.get(name, {}))
        self._by_kind = {kind: opened[name] for kind, name in routes.items()}
        self._default = opened[DEFAULT_CONNECTOR]
        self._version = version
        log.info("connector settings version %s: routes %s", version, routes or "none (all recorded)")

    def connector_for(self, kind: str) -> Connector:
        return self._by_kind.get(kind, self._default)

    def connectors(self) -> list[Connector]:
        """Every connector opened now (those the routes name, and the default), once each."""
        return list({id(c): c for c in (self._default, *self._by_kind.values())}.values())

    def _open(self, name: str, stored: dict) -> Connector:
        kind = self.settings.types.get(name)
        if kind is None:
            return Unavailable(
                name, f"连接器 {name} 没有安装在本服务中 (connector not installed in this process)"
            )
        try:
            return kind.open(self.settings.options(name, stored), self.context)
        except UserError as error:  # messages name fields, never secret values
            return Unavailable(name, f"连接器 {name} 无法打开：{error} (connector cannot be opened)")
        except Exception as error:  # a plug-in's bug: its deliveries wait, the others go on
            log.exception("connector `%s` failed to open", name)
            return Unavailable(
                name, f"连接器 {name} 打开出错（{type(error).__name__}） (connector failed to open)"
            )


__all__ = ["ConfiguredRoutes", "FixedRoutes", "Router"]
