"""What the web app works with: the store, the engine, the accounts, the connector settings, the
secret key, and one writer at a time."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from litestar.di import NamedDependency

from qunflow.editor.accounts import Accounts
from qunflow.engine import Clock, Engine, RealClock, Registry, Store, default_registry
from qunflow.engine.clock import to_us
from qunflow.engine.connectors import ConnectorContext, ConnectorSettings, ConnectorType
from qunflow.engine.vault import Vault, kept_secret

T = TypeVar("T")


class Services:
    """The app's engine and store. Engine writes go through :meth:`write`, one at a time per process."""

    def __init__(
        self,
        store: Store,
        registry: Registry | None = None,
        clock: Clock | None = None,
        *,
        vault: Vault | None = None,
        connector_types: dict[str, ConnectorType] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock or RealClock()
        self.engine = Engine(store, registry or default_registry(), self.clock)
        self.accounts = Accounts(store)
        self.vault = vault or Vault.for_database(store.url)
        # Kept sealed with the other secrets (DESIGN §19), never in plain text in the database.
        self.signing_key = bytes.fromhex(
            kept_secret(store, self.vault, "signing_key", lambda: secrets.token_hex(32))
        )
        self.connectors = ConnectorSettings(store, self.vault, connector_types)
        # SQLite has one writer; serialising here keeps request threads and the worker from queueing
        # inside the database, and costs nothing on PostgreSQL at this scale.
        self._write_lock = threading.Lock()
        # Called after anything that may have made runs due sooner (the worker's wake-up).
        self.on_change: Callable[[], None] = lambda: None

    @classmethod
    def open(cls, url: str, registry: Registry | None = None, clock: Clock | None = None) -> Services:
        return cls(Store.open(url), registry, clock)

    @property
    def registry(self) -> Registry:
        return self.engine.registry

    def connector_context(self) -> ConnectorContext:
        return ConnectorContext(self.store, self.clock, lambda events: self.write(self.engine.ingest, events))

    def now_us(self) -> int:
        return to_us(self.clock.now())

    def write(self, action: Callable[..., T], *args: Any) -> T:
        """Run an engine write under the process's write lock, then wake the worker."""
        with self._write_lock:
            result = action(*args)
        self.on_change()
        return result

    def run_due(self) -> int:
        """Step the due runs now, under the write lock (tests and tools; `qunflow serve` has its worker)."""
        with self._write_lock:
            return self.engine.run_due()

    def close(self) -> None:
        self.store.close()


# How handlers ask for the services: by name, explicitly (litestar 3 drops inferred dependencies).
ServicesDep = NamedDependency[Services]
