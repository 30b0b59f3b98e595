"""The webhook connector: signed JSON calls with the idempotency key, timeouts, and no SSRF.

Only loopback is ever called: a local test server, allow-listed. Every refused address is refused
before any connection is made; names resolve through a fake resolver, never through DNS.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from qunflow.engine.connectors import (
    KEY_HEADER,
    SIGNATURE_HEADER,
    AddressPolicy,
    AddressRefused,
    Delivery,
    DeliveryFailed,
    WebhookConnector,
    verify,
)
from qunflow.engine.errors import UserError

SECRET = b"s3cret"
FAKE_DNS = {
    "metadata.google.internal": ["169.254.169.254"],
    "metadata.tencentyun.com": ["169.254.0.23"],
    "localhost": ["127.0.0.1", "::1"],
    "internal.example": ["10.0.0.5"],
    "v6-private.example": ["fd12:3456::1"],
    "rebinding.example": ["93.184.216.34", "127.0.0.1"],  # one public answer, one loopback
    "public.example": ["93.184.216.34"],
}


def fake_resolver(host: str, port: int) -> list[str]:
    if host not in FAKE_DNS:
        raise OSError(f"unknown test name {host}")
    return FAKE_DNS[host]


class Server:
    """A loopback HTTP server that records requests; some paths answer with redirects or errors."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.redirects: dict[str, tuple[int, str]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                if self.path in server.redirects:
                    status, location = server.redirects[self.path]
                    self.send_response(status)
                    self.send_header("Location", location)
                elif self.path.startswith("/status/"):
                    self.send_response(int(self.path.rsplit("/", 1)[1]))
                elif self.path == "/slow":
                    time.sleep(1.0)
                    self.send_response(200)
                else:
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.http.shutdown()
    running.http.server_close()


def connector(url: str | None = None, **options: Any) -> WebhookConnector:
    return WebhookConnector(SECRET, url, allow=["127.0.0.1/32"], resolver=fake_resolver, **options)


def coupon(key: str = "42:coupon") -> Delivery:
    return Delivery(
        key=key,
        kind="coupon",
        payload={"coupon": "welcome-10"},
        flow="welcome-vip",
        node="coupon",
        member="m-42",
        run=42,
        at=datetime(2026, 11, 22, 2, 0, tzinfo=UTC),
    )


# -- calls ---------------------------------------------------------------------------------------------


def test_a_delivery_is_posted_as_signed_json_with_its_key(server: Server) -> None:
    connector(server.base + "/effects").send(coupon())

    [request] = server.requests
    assert (request["method"], request["path"]) == ("POST", "/effects")
    assert request["headers"][KEY_HEADER] == "42:coupon"
    assert verify(SECRET, request["body"], request["headers"][SIGNATURE_HEADER])
    assert not verify(b"other secret", request["body"], request["headers"][SIGNATURE_HEADER])
    assert json.loads(request["body"]) == {
        "key": "42:coupon",
        "kind": "coupon",
        "flow": "welcome-vip",
        "node": "coupon",
        "member": "m-42",
        "run": 42,
        "at": "2026-11-22T02:00:00+00:00",
        "payload": {"coupon": "welcome-10"},
    }


def test_a_webhook_delivery_goes_to_its_own_url_method_and_body(server: Server) -> None:
    delivery = Delivery(
        key="7:hook",
        kind="webhook",
        payload={"url": server.base + "/crm?x=1", "method": "put", "body": {"a": 1}},
        flow="f",
        node="hook",
    )
    connector().send(delivery)

    [request] = server.requests
    assert (request["method"], request["path"], json.loads(request["body"])) == ("PUT", "/crm?x=1", {"a": 1})
    assert verify(SECRET, request["body"], request["headers"][SIGNATURE_HEADER])


def test_a_key_already_delivered_is_not_called_again(server: Server) -> None:
    webhook = connector(server.base + "/effects")
    webhook.send(coupon())
    webhook.send(coupon())

    assert len(server.requests) == 1


def test_server_errors_are_retryable_and_client_errors_are_not(server: Server) -> None:
    # Said as the operator reads it on the deliveries page: 简体中文 first, with the status and host.
    for status, retryable, said in (
        (503, True, "对方服务器出错（HTTP 503，127.0.0.1） (the server failed)"),
        (
            429,
            True,
            "对方服务器暂时不接受请求（HTTP 429，127.0.0.1） (the server is busy for now)",
        ),
        (404, False, "对方服务器上没有这个地址（HTTP 404，127.0.0.1） (no such address on the server)"),
        (400, False, "对方服务器拒绝了请求（HTTP 400，127.0.0.1） (the server refused the request)"),
    ):
        with pytest.raises(DeliveryFailed) as failed:
            connector(f"{server.base}/status/{status}").send(coupon(f"k-{status}"))
        assert failed.value.retryable is retryable
        assert str(failed.value) == said


def test_a_slow_endpoint_times_out_retryably(server: Server) -> None:
    with pytest.raises(DeliveryFailed) as failed:
        connector(server.base + "/slow", timeout=0.2).send(coupon())
    assert failed.value.retryable
    assert "timed out" in str(failed.value)


def test_the_connector_needs_a_secret() -> None:
    with pytest.raises(UserError, match="signing secret"):
        WebhookConnector("", "http://127.0.0.1/")


def test_a_bad_allow_list_entry_is_named() -> None:
    with pytest.raises(UserError, match="`10.0.0.0/33`"):
        AddressPolicy(["10.0.0.0/33"])


# -- redirects -----------------------------------------------------------------------------------------


def test_a_redirect_to_an_allowed_address_is_followed(server: Server) -> None:
    server.redirects["/old"] = (307, "/new")
    connector(server.base + "/old").send(coupon())

    assert [(r["method"], r["path"]) for r in server.requests] == [("POST", "/old"), ("POST", "/new")]
    assert server.requests[1]["body"] == server.requests[0]["body"]


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://10.0.0.1/admin",
        "http://127.0.0.2:{port}/",  # loopback, but outside the allow-listed 127.0.0.1/32
        "http://[::1]:{port}/",
        "http://2130706434:{port}/x",  # 127.0.0.2 as one number
        "http://localhost:{port}/",
    ],
)
def test_a_redirect_to_a_refused_address_is_refused(server: Server, location: str) -> None:
    port = server.http.server_address[1]
    server.redirects["/hop"] = (302, location.format(port=port))

    with pytest.raises(AddressRefused) as refused:
        connector(server.base + "/hop").send(coupon())

    assert refused.value.retryable is False
    assert str(refused.value).startswith("拒绝访问") and "(refused to call" in str(refused.value)
    assert [r["path"] for r in server.requests] == ["/hop"]


def test_too_many_redirects_fail(server: Server) -> None:
    server.redirects["/loop"] = (307, "/loop")
    with pytest.raises(DeliveryFailed, match="more than 3 redirects"):
        connector(server.base + "/loop").send(coupon())
    assert len(server.requests) == 4


# -- addresses (no connection is made for any of these) -------------------------------------------------

REFUSED = [
    "http://127.0.0.1/",
    "http://2130706433/",  # decimal
    "http://0x7f000001/",  # hex
    "http://0x7f.0.0.1/",  # hex part
    "http://0177.0.0.1/",  # octal
    "http://017700000001/",  # octal, one number
    "http://127.1/",  # short
    "http://127.0.0.1./",  # trailing dot
    "http://user:password@127.0.0.1:8080/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[::ffff:7f00:1]/",  # IPv4-mapped, hex
    "http://[::127.0.0.1]/",  # IPv4-compatible
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://169.254.169.254/latest/meta-data/",  # AWS, GCP, Azure metadata
    "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud metadata
    "http://[fd00:ec2::254]/",  # AWS metadata over IPv6
    "http://metadata.google.internal/",  # a name that resolves to metadata
    "http://metadata.tencentyun.com/",
    "http://localhost:8000/",
    "http://internal.example/",  # a name that resolves to a private address
    "http://v6-private.example/",
    "http://rebinding.example/",  # one answer public, one loopback
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://[fc00::1]/",
    "http://[fe80::1]/",
    "http://169.254.1.1/",
    "http://224.0.0.1/",  # multicast
    "http://[ff02::1]/",
    "http://255.255.255.255/",
    "http://198.18.0.1/",  # benchmarking range
    "https://[::ffff:a9fe:a9fe]/",  # https too
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_loopback_and_metadata_addresses_are_refused(url: str) -> None:
    webhook = WebhookConnector(SECRET, url, resolver=fake_resolver)
    with pytest.raises(AddressRefused) as refused:
        webhook.send(coupon())
    assert refused.value.retryable is False
    assert str(refused.value).startswith("拒绝访问") and "(refused to call" in str(refused.value), str(
        refused.value
    )


def test_at_least_twenty_encodings_are_covered() -> None:
    assert len(REFUSED) >= 20


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "gopher://127.0.0.1/", "http:///x"]
)
def test_other_schemes_and_hostless_urls_are_refused(url: str) -> None:
    with pytest.raises(DeliveryFailed, match="refused to call") as refused:
        WebhookConnector(SECRET, url, resolver=fake_resolver).send(coupon())
    assert refused.value.retryable is False


def test_public_addresses_pass_and_allow_lists_are_exact() -> None:
    policy = AddressPolicy(["127.0.0.1/32", "10.0.0.0/8"], resolver=fake_resolver)

    assert [str(a) for a in policy.addresses("public.example", 443)] == ["93.184.216.34"]
    assert [str(a) for a in policy.addresses("2130706433", 80)] == ["127.0.0.1"]
    assert [str(a) for a in policy.addresses("[::ffff:127.0.0.1]", 80)] == ["::ffff:7f00:1"]
    assert [str(a) for a in policy.addresses("internal.example", 80)] == ["10.0.0.5"]
    for refused in ("127.0.0.2", "169.254.169.254", "192.168.0.1"):
        with pytest.raises(AddressRefused):
            policy.addresses(refused, 80)


def test_a_name_that_does_not_resolve_is_retryable() -> None:
    with pytest.raises(AddressRefused, match="does not resolve") as failed:
        AddressPolicy(resolver=fake_resolver).addresses("no-such-name.example", 80)
    assert failed.value.retryable is True
