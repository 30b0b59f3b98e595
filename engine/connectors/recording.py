"""The recording connector (the default): keeps what it is given, each idempotency key once."""

from __future__ import annotations

import threading

from .base import Delivery


class RecordingConnector:
    """Makes no outside effect: remembers each delivery under its key. Tests read `received`;
    `calls - len(received)` is how many calls repeated a key (and made no second effect)."""

    name = "recording"

    def __init__(self) -> None:
        self.received: dict[str, Delivery] = {}
        self.calls = 0
        self._lock = threading.Lock()

    def send(self, delivery: Delivery) -> None:
        with self._lock:
            self.calls += 1
            self.received.setdefault(delivery.key, delivery)

    @property
    def repeated(self) -> int:
        """Calls whose key had been received before."""
        return self.calls - len(self.received)
