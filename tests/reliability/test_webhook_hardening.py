"""The webhook connector under hostile input: zoned IPv6 addresses and endpoints that trickle.

Real sockets on loopback only; nothing here reaches another machine.
"""

from __future__ import annotations

import pytest

from qunflow.engine.connectors import (
    AddressPolicy,
    AddressRefused,
    Delivery,
    WebhookConnector,
)


def _hook(url: str) -> Delivery:
    return Delivery(key="k", kind="webhook", payload={"url": url, "method": "POST"}, flow="f", node="hook")


# -- scoped IPv6 addresses (#13.8) --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1%25lo]/x",
        "http://[::1%lo]/x",
        "http://[fe80::1%25eth0]:8080/x",
        "http://[2001:db8::1%251]/x",
        "http://[::ffff:127.0.0.1%25lo]/x",
    ],
)
def test_an_address_with_a_zone_is_refused_for_good(url: str) -> None:
    connector = WebhookConnector(b"secret", allow=["::1/128", "127.0.0.1/32", "fe80::/10"])
    with pytest.raises(AddressRefused) as refused:
        connector.send(_hook(url))

    assert refused.value.retryable is False
    assert "zone (%)" in str(refused.value)


def test_a_zoned_address_from_the_resolver_is_checked_without_its_zone() -> None:
    policy = AddressPolicy(resolver=lambda host, port: ["fe80::1%eth0"])
    with pytest.raises(AddressRefused, match="link-local"):
        policy.addresses("printer.example", 80)
