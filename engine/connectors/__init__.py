"""Connectors: how deliveries from the outbox reach the outside world (DESIGN §8, §14)."""

from .addresses import AddressPolicy, Resolver, refusal, system_resolver
from .base import AddressRefused, Connector, Delivery, DeliveryFailed, Unavailable
from .recording import RecordingConnector
from .webhook import KEY_HEADER, SIGNATURE_HEADER, WebhookConnector, sign, verify

__all__ = [
    "KEY_HEADER",
    "SIGNATURE_HEADER",
    "AddressPolicy",
    "AddressRefused",
    "Connector",
    "Delivery",
    "DeliveryFailed",
    "RecordingConnector",
    "Resolver",
    "Unavailable",
    "WebhookConnector",
    "refusal",
    "sign",
    "system_resolver",
    "verify",
]
