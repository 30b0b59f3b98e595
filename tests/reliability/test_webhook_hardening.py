"""The webhook connector under hostile input: zoned IPv6 addresses and endpoints that trickle.

Real sockets on loopback only; nothing here reaches another machine.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from qunflow.engine.connectors import (
    AddressPolicy,
    AddressRefused,
    Delivery,
    DeliveryFailed,
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


# -- the timeout bounds the whole call (#13.9) ---------------------------------------------------------


class Trickler:
    """A loopback server that answers one byte every 0.3 s: never silent long enough for a read
    timeout, and never done (it stops after 20 s, or when the client hangs up)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.hung_up = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(client,), daemon=True).start()

    def _trickle(self, client: socket.socket) -> None:
        answer = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000
        try:
            client.recv(65536)
            for byte in answer[:67]:  # 67 bytes x 0.3 s = 20 s
                client.sendall(bytes([byte]))
                time.sleep(0.3)
        except OSError:
            self.hung_up.set()
        finally:
            client.close()


@pytest.fixture
def trickler() -> Iterator[Trickler]:
    running = Trickler()
    yield running
    running.listener.close()


def test_a_trickling_server_is_cut_off_when_the_whole_call_is_out_of_time(trickler: Trickler) -> None:
    connector = WebhookConnector(b"secret", allow=["127.0.0.1/32"], timeout=1.0)
    started = time.monotonic()
    with pytest.raises(DeliveryFailed) as failed:
        connector.send(_hook(trickler.base + "/slow"))
    took = time.monotonic() - started

    assert 0.9 <= took < 1.6
    assert failed.value.retryable is True
    assert (
        str(failed.value)
        == "对方服务器 127.0.0.1 在 1 秒内没有回应（超时） (did not answer in time: timed out)"
    )
    assert trickler.hung_up.wait(2.0)  # the connection was closed, not left open


def test_redirects_share_one_deadline(trickler: Trickler) -> None:
    # Each hop answers at once, but the hops together must not outlast the call's timeout.
    hops = Redirector(trickler.base)
    connector = WebhookConnector(b"secret", allow=["127.0.0.1/32"], timeout=1.0, max_redirects=50)
    started = time.monotonic()
    with pytest.raises(DeliveryFailed, match="timed out"):
        connector.send(_hook(hops.base + "/0"))
    assert time.monotonic() - started < 1.6
    hops.stop()


class Redirector:
    """Answers /n with a redirect to /n+1 after 0.2 s."""

    def __init__(self, target: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(0.2)
                self.send_response(307)
                self.send_header("Location", f"/{int(self.path[1:]) + 1}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()
