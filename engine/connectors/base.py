"""What every connector is: something that makes one delivery's effect in the outside world."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import msgspec

from ..errors import QunflowError


class Delivery(msgspec.Struct, frozen=True):
    """One effect to make, as a connector receives it. `key` is the idempotency key (run, node, visit):
    the same key twice is the same effect, so a connector (and whatever it calls) makes it once."""

    key: str
    kind: str
    payload: dict[str, Any]
    flow: str
    node: str
    member: str | None = None
    run: int | None = None
    at: datetime | None = None


class Connector(Protocol):
    """Sends deliveries. `send` returns when the effect is made (or was made before under the same
    key) and raises :class:`DeliveryFailed` when it is not; it may be called from several threads."""

    name: str

    def send(self, delivery: Delivery) -> None: ...


class DeliveryFailed(QunflowError):
    """The delivery could not be made."""

    retryable = True

    def __init__(self, message: str | None = None, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class AddressRefused(DeliveryFailed):
    """The address is loopback, private, link-local, metadata or otherwise not public; it is refused
    unless allow-listed."""

    retryable = False


class Unavailable:
    """Stands in for a connector that is not configured: each delivery fails with `reason`, as a
    retryable failure, so deliveries made before the configuration is fixed are not lost."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def send(self, delivery: Delivery) -> None:
        raise DeliveryFailed(self.reason, retryable=True)
