"""The recording connector (the default route): keeps what it is given, each idempotency key once.

Nothing leaves the server: every delivery it takes is `recorded`, never `sent` (DESIGN §19).
"""

from __future__ import annotations

import threading
from typing import ClassVar

import msgspec

from .base import MADE_RECORDED, ROUTABLE_KINDS, ConnectorContext, Delivery, Made


class RecordingOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The recording connector has nothing to configure."""


class RecordingConnector:
    """Makes no outside effect: remembers each delivery under its key (unless `keep` is false, as in a
    server, where the outbox row is the record). Tests read `received`;
    `calls - len(received)` is how many calls repeated a key (and made no second effect)."""

    name: ClassVar[str] = "recording"
    title: ClassVar[dict[str, str]] = {"zh": "仅记录（不发送）", "en": "Record only (sends nothing)"}
    kinds: ClassVar[frozenset[str]] = frozenset(ROUTABLE_KINDS)
    Options: ClassVar[type[msgspec.Struct]] = RecordingOptions
    # Nothing it takes leaves the server: while every route leads here, pages say so.
    delivers: ClassVar[bool] = False

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep
        self.received: dict[str, Delivery] = {}
        self.calls = 0
        self._lock = threading.Lock()

    @classmethod
    def open(cls, options: RecordingOptions, context: ConnectorContext) -> RecordingConnector:
        # In a server the outbox row is the record; keeping every delivery in memory would only grow.
        return cls(keep=False)

    def send(self, delivery: Delivery) -> Made:
        with self._lock:
            self.calls += 1
            if self.keep:
                self.received.setdefault(delivery.key, delivery)
        return MADE_RECORDED

    @property
    def repeated(self) -> int:
        """Calls whose key had been received before."""
        return self.calls - len(self.received)
