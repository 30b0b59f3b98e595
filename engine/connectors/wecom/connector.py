"""The WeCom connector (DESIGN §20): deliveries become calls to WeCom's server API."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from ..base import ConnectorContext, Delivery, DeliveryFailed, Made
from .options import WecomOptions

KINDS = frozenset({"message", "welcome", "invite", "tag", "task", "friend_request", "remove"})


class WecomConnector:
    """Sends through a self-built app with 客户联系 permission."""

    name: ClassVar[str] = "wecom"
    title: ClassVar[dict[str, str]] = {"zh": "企业微信", "en": "WeCom"}
    kinds: ClassVar[frozenset[str]] = KINDS
    Options: ClassVar[type[msgspec.Struct]] = WecomOptions

    def __init__(self, options: WecomOptions, context: ConnectorContext) -> None:
        self.options = options
        self.context = context

    @classmethod
    def open(cls, options: WecomOptions, context: ConnectorContext) -> WecomConnector:
        return cls(options, context)

    def send(self, delivery: Delivery) -> Made | None:
        raise DeliveryFailed("the WeCom connector cannot send yet", retryable=True)
