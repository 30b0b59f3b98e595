"""The webhook connector: each delivery as a signed JSON request to an HTTP endpoint.

`webhook` deliveries (`action.webhook`) go to the URL, method and body in their payload; every other
kind goes, when an endpoint URL is configured, as an envelope `{key, kind, flow, node, member, run,
at, payload}` POSTed there (a bridge to WeCom or a CRM, say). Every request carries:

- `Idempotency-Key`: the delivery's key; a retry carries the same key, so the receiver makes the
  effect once. The connector also remembers the keys it delivered and does not call again for them.
- `X-Qunflow-Signature: sha256=<hex>`: HMAC-SHA256 of the exact body bytes with the shared secret.

Addresses are checked by :class:`AddressPolicy` before connecting and again on every redirect; the
connection goes to the checked address. `timeout` bounds the whole call, redirects included: a server
that trickles its answer a byte at a time is cut off when the time is up, not at each quiet read.
Which loopback or private destinations are allowed is the admin's `allow` option (DESIGN §14, §19).

A failure says what happened as an operator reads it on the deliveries page, 简体中文 first with the
technical detail (status, host, URL), then a few English words in brackets, as the WeCom errors do.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import re
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Annotated, ClassVar
from urllib.parse import quote, urljoin, urlsplit

import msgspec

from ..errors import UserError
from .addresses import AddressPolicy, IPAddress, Resolver, system_resolver
from .base import ROUTABLE_KINDS, ConnectorContext, Delivery, DeliveryFailed, Made, Secret

SIGNATURE_HEADER = "X-Qunflow-Signature"
KEY_HEADER = "Idempotency-Key"
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRY_STATUSES = frozenset({408, 425, 429})
_RESPONSE_LIMIT = 64 * 1024
_NOT_URL_ASCII = re.compile(r"[^\x21-\x7e]+")


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether `header` is the right signature of `body` (for receivers and tests)."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


class WebhookOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`secret` signs every request; `url` receives the deliveries of kinds other than `webhook` (as a
    signed envelope); `allow` lists the loopback or private networks flows' webhooks may call."""

    secret: Annotated[Secret, msgspec.Meta(min_length=8, max_length=500, description="signing secret")]
    url: Annotated[str, msgspec.Meta(max_length=2000, description="endpoint for other kinds")] | None = None
    allow: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=100)]],
        msgspec.Meta(max_length=100, description="allowed private networks, e.g. 10.0.0.0/8"),
    ] = []
    timeout: Annotated[float, msgspec.Meta(gt=0, le=120, description="seconds")] = 10.0


class WebhookConnector:
    name: ClassVar[str] = "webhook"
    title: ClassVar[dict[str, str]] = {"zh": "Webhook（HTTP 回调）", "en": "Webhook (HTTP)"}
    # `webhook` deliveries go to their own URL; every other kind needs the `url` option.
    kinds: ClassVar[frozenset[str]] = frozenset(ROUTABLE_KINDS)
    Options: ClassVar[type[msgspec.Struct]] = WebhookOptions

    def __init__(
        self,
        secret: str | bytes,
        url: str | None = None,
        *,
        allow: Iterable[str] = (),
        resolver: Resolver = system_resolver,
        timeout: float = 10.0,
        max_redirects: int = 3,
        remember: int = 100_000,
    ) -> None:
        if not secret:
            raise UserError("secret: the webhook connector needs a signing secret")
        self.secret = secret.encode() if isinstance(secret, str) else secret
        self.url = url
        self.policy = AddressPolicy(allow, resolver)
        self.timeout = timeout
        self.max_redirects = max_redirects
        self._remember = remember
        self._delivered: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def kinds_for(cls, options: WebhookOptions) -> frozenset[str]:
        """What it can make with these options: other kinds only with an endpoint `url`."""
        return cls.kinds if options.url else frozenset({"webhook"})

    @classmethod
    def open(cls, options: WebhookOptions, context: ConnectorContext) -> WebhookConnector:
        if options.url is not None:
            _check_url(options.url)
        return cls(options.secret, options.url, allow=options.allow, timeout=options.timeout)

    # -- the connector ---------------------------------------------------------------------------------

    def send(self, delivery: Delivery) -> Made | None:
        with self._lock:
            if delivery.key in self._delivered:
                return None
        method, url, body = self._request_for(delivery)
        self.call(method, url, body, delivery.key, delivery.kind)
        with self._lock:
            self._delivered[delivery.key] = None
            while len(self._delivered) > self._remember:
                self._delivered.popitem(last=False)
        return None

    def _request_for(self, delivery: Delivery) -> tuple[str, str, bytes | None]:
        if delivery.kind == "webhook":
            payload = delivery.payload
            url = payload.get("url")
            if not isinstance(url, str) or not url:
                raise DeliveryFailed(
                    "Webhook 投递没有地址（payload.url） (webhook delivery without a URL)", retryable=False
                )
            method = str(payload.get("method") or "POST").upper()
            if method not in METHODS:
                raise DeliveryFailed(
                    f"Webhook 请求方法 {method} 不支持，可用 {'、'.join(sorted(METHODS))}"
                    " (unsupported webhook method)",
                    False,
                )
            body = payload.get("body")
            return method, url, msgspec.json.encode(body) if body is not None and method != "GET" else None
        if self.url is None:
            raise DeliveryFailed(
                f"没有为 {delivery.kind} 投递设置 Webhook 地址，请在连接器页填写"
                " (no webhook endpoint URL is configured for these deliveries)",
                False,
            )
        envelope = {
            "key": delivery.key,
            "kind": delivery.kind,
            "flow": delivery.flow,
            "node": delivery.node,
            "member": delivery.member,
            "run": delivery.run,
            "at": delivery.at.isoformat() if delivery.at else None,
            "payload": delivery.payload,
        }
        return "POST", self.url, msgspec.json.encode(envelope)

    # -- HTTP ------------------------------------------------------------------------------------------

    def call(self, method: str, url: str, body: bytes | None, key: str, kind: str = "webhook") -> int:
        """Make one request, following redirects (each target checked again), all within `timeout`
        seconds (name lookups aside); returns the final 2xx status or raises DeliveryFailed
        (retryable for timeouts, 408, 425, 429 and 5xx)."""
        headers = {
            "User-Agent": "qunflow-webhook/1",
            KEY_HEADER: key,
            "X-Qunflow-Kind": kind,
            SIGNATURE_HEADER: sign(self.secret, body or b""),
        }
        if body is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        deadline = time.monotonic() + self.timeout
        for _ in range(self.max_redirects + 1):
            status, location, host = self._exchange(method, url, body, headers, deadline)
            if status in _REDIRECTS and location:
                url = urljoin(url, location)
                if status == 303 or (status in (301, 302) and method != "GET"):
                    method, body = "GET", None
                    headers.pop("Content-Type", None)
                    headers[SIGNATURE_HEADER] = sign(self.secret, b"")
                continue
            if 200 <= status < 300:
                return status
            retryable = status in _RETRY_STATUSES or status >= 500
            raise DeliveryFailed(_status_words(status, host), retryable=retryable)
        most = self.max_redirects
        raise DeliveryFailed(f"对方服务器重定向超过 {most} 次（{url}） (more than {most} redirects)", False)

    def _exchange(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str], deadline: float
    ) -> tuple[int, str | None, str]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise DeliveryFailed(
                _refused(url, "只允许 http 和 https 地址", "only http and https URLs"), False
            )
        host = parts.hostname
        if not host:
            raise DeliveryFailed(_refused(url, "地址中没有主机名", "the URL has no host"), False)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise DeliveryFailed(_refused(url, "端口不对", "bad port"), False) from None
        addresses = self.policy.addresses(host, port)
        path = _ascii((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        failure: OSError | http.client.HTTPException | None = None
        timed_out = False
        for address in addresses:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            conn = _pinned(parts.scheme, host, port, address, left)
            # Socket timeouts bound each read, not the call: when the time is up the watchdog shuts
            # the socket down, which ends whatever read is waiting.
            watchdog = threading.Timer(left, conn.cut)
            watchdog.daemon = True
            watchdog.start()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read(_RESPONSE_LIMIT)
                if not conn.was_cut:
                    return response.status, response.getheader("Location"), host
            except (OSError, http.client.HTTPException) as error:
                failure = error
            finally:
                watchdog.cancel()
                conn.close()
            if conn.was_cut:
                timed_out = True
                break
        if timed_out or failure is None:
            waited = f"对方服务器 {host} 在 {self.timeout:g} 秒内没有回应（超时）"
            raise DeliveryFailed(f"{waited} (did not answer in time: timed out)", retryable=True)
        raise DeliveryFailed(
            f"无法连接到对方服务器 {host}（{failure}） (cannot reach the server)", retryable=True
        )


def _refused(url: str, why: str, english: str) -> str:
    return f"拒绝访问 {url}：{why} (refused to call: {english})"


def _status_words(status: int, host: str) -> str:
    """What an answer's status means for the delivery, with the status and the host."""
    if status in _RETRY_STATUSES:
        words, english = "对方服务器暂时不接受请求", "the server is busy for now"
    elif status >= 500:
        words, english = "对方服务器出错", "the server failed"
    elif status == 404:
        words, english = "对方服务器上没有这个地址", "no such address on the server"
    elif status in (401, 403):
        words, english = (
            "对方服务器不允许这个请求，请检查签名密钥或权限",
            "the server does not allow the request",
        )
    elif status >= 400:
        words, english = "对方服务器拒绝了请求", "the server refused the request"
    else:
        words, english = "对方服务器的回答不是成功", "the answer is not a success"
    return f"{words}（HTTP {status}，{host}） ({english})"


def _ascii(target: str) -> str:
    """The request target with non-ASCII, space and control characters percent-encoded (UTF-8), as a
    browser sends `/会员` from an address bar; everything else, existing escapes included, is kept."""
    return _NOT_URL_ASCII.sub(lambda m: quote(m.group(0), safe=""), target)


class _Cuttable:
    """A connection whose socket another thread can shut down, ending any read it waits in."""

    _raw: socket.socket | None = None
    was_cut = False

    def _open(self, address: IPAddress, port: int, timeout: float) -> socket.socket:
        self._raw = socket.create_connection((str(address), port), timeout)
        if self.was_cut:  # cut while connecting
            self._raw.close()
            raise TimeoutError("timed out")
        return self._raw

    def cut(self) -> None:
        self.was_cut = True
        if self._raw is not None:
            try:
                self._raw.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"url: `{url}` is not an http or https URL")


class _PinnedHTTP(_Cuttable, http.client.HTTPConnection):
    """Connects to an address checked beforehand; the Host header keeps the URL's host."""

    def __init__(self, host: str, port: int, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = self._open(self._address, self.port, self.timeout)


class _PinnedHTTPS(_Cuttable, http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = self._open(self._address, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _pinned(
    scheme: str, host: str, port: int, address: IPAddress, timeout: float
) -> _PinnedHTTP | _PinnedHTTPS:
    kind = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    return kind(host, port, address, timeout)
