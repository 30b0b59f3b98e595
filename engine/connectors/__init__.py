"""Connectors: how deliveries from the outbox reach the outside world (DESIGN §8, §14, §19)."""

from .addresses import AddressPolicy, Resolver, refusal, system_resolver
from .base import (
    DELIVERY_KINDS,
    MADE_RECORDED,
    MADE_SENT,
    ROUTABLE_KINDS,
    AddressRefused,
    Connector,
    ConnectorContext,
    ConnectorType,
    Delivery,
    DeliveryFailed,
    Made,
    Secret,
    Unavailable,
    awaiting_confirmation,
    skipped,
)
from .plugins import ENTRY_POINT_GROUP, installed_connectors
from .recording import RecordingConnector
from .routing import ConfiguredRoutes, FixedRoutes, Router
from .settings import MASK, ConnectorSettings, SettingInvalid
from .webhook import KEY_HEADER, SIGNATURE_HEADER, WebhookConnector, sign, verify

__all__ = [
    "DELIVERY_KINDS",
    "ENTRY_POINT_GROUP",
    "KEY_HEADER",
    "MADE_RECORDED",
    "MADE_SENT",
    "MASK",
    "ROUTABLE_KINDS",
    "SIGNATURE_HEADER",
    "AddressPolicy",
    "AddressRefused",
    "ConfiguredRoutes",
    "Connector",
    "ConnectorContext",
    "ConnectorSettings",
    "ConnectorType",
    "Delivery",
    "DeliveryFailed",
    "FixedRoutes",
    "Made",
    "RecordingConnector",
    "Resolver",
    "Router",
    "Secret",
    "SettingInvalid",
    "Unavailable",
    "WebhookConnector",
    "awaiting_confirmation",
    "installed_connectors",
    "refusal",
    "sign",
    "skipped",
    "system_resolver",
    "verify",
]
