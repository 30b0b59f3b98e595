"""A local fake WeCom: a test double of the *remote side only*, an HTTP server on loopback that answers
the server API calls qunflow makes as WeCom's documents describe them (:mod:`.fake_endpoints`),
for tests and for `qunflow serve --demo`. Nothing of qunflow is imported here but the callback crypto
(the fake seals callbacks as WeCom does).

Besides the HTTP API it has a Python API for tests (never reachable over HTTP): add staff, customers
and groups; simulate a customer adding a staff member (an encrypted callback POSTed to a URL, with a
welcome code); simulate the staff member's tap that sends a mass-send task (per-recipient outcomes
optional); make the next calls of an API answer an error code; and read every call made, with its
body (:attr:`FakeWecom.calls`).

Rules it enforces, as WeCom does: an access token is needed and checked (40014 unknown, 42001
expired, 41001 missing); a welcome code works once and only within 20 s of being issued (41051); a
customer receives at most `quota` mass sends per period (status 3 at the staff tap); a recipient who
is no longer the sender's customer gets status 2; `remind_groupmsg_send` at most 3 times per task in
24 h; app messages with `enable_duplicate_check` are not repeated within the interval. Time is the
`clock` it is given (seconds since the epoch), so tests skip time instead of sleeping.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from .fake_endpoints import APIS, Call, Endpoints, Refusal, Task

TOKEN_TTL = 7200


class FakeWecom(Endpoints):
    """A fake WeCom corp with one self-built app. Start it with :meth:`start` (or as a context
    manager); its address is :attr:`url`."""

    def __init__(
        self,
        corp_id: str = "wwfake0000000001",
        secret: str = "fake-app-secret",
        *,
        agent_id: int = 1000002,
        quota: int = 1,
        quota_per: str = "day",
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        self.quota = quota
        self.quota_per = quota_per
        self.clock = clock
        self.trusted_ips: set[str] | None = None  # None: every IP is trusted
        self.calls: list[Call] = []
        self.staff: dict[str, str] = {}
        self.customers: dict[str, dict[str, Any]] = {}  # id → {name, follow: {staff: {tags, state}}}
        self.groups: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, Task] = {}
        self.welcomes: list[dict[str, Any]] = []  # welcome messages sent
        self.app_messages: list[dict[str, Any]] = []
        self.tag_groups: list[dict[str, Any]] = []
        self.join_ways: dict[str, dict[str, Any]] = {}
        self.contact_ways: dict[str, dict[str, Any]] = {}
        self._codes: dict[str, dict[str, Any]] = {}
        self._tokens: dict[str, float] = {}
        self._received: dict[str, list[float]] = {}  # customer → when each mass send reached them
        self._failures: dict[str, list[tuple[int, str]]] = {}
        self._delays: dict[str, float] = {}
        self.callbacks: list[str] = []  # every event XML posted to a callback URL, in order
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._server = _Server((host, port), _handler(self))
        self._thread: threading.Thread | None = None

    # -- running -------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeWecom:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-wecom", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeWecom:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls (Python only) -----------------------------------------------------------------

    def add_staff(self, userid: str, name: str | None = None) -> None:
        with self._lock:
            self.staff[userid] = name or userid

    def add_customer(
        self, external_userid: str, staff: str, name: str | None = None, state: str | None = None
    ) -> None:
        """`external_userid` becomes a customer (friend) of `staff`."""
        with self._lock:
            self.staff.setdefault(staff, staff)
            customer = self.customers.setdefault(
                external_userid, {"name": name or external_userid, "follow": {}}
            )
            customer["follow"].setdefault(
                staff, {"tags": set(), "state": state, "createtime": int(self.clock())}
            )

    def drop_contact(self, external_userid: str, staff: str) -> None:
        """The customer deletes `staff`: later mass sends from `staff` to them fail (status 2)."""
        with self._lock:
            self.customers.get(external_userid, {}).get("follow", {}).pop(staff, None)

    def add_group(
        self, chat_id: str, owner: str, name: str | None = None, members: Iterable[str] = ()
    ) -> None:
        with self._lock:
            self.staff.setdefault(owner, owner)
            self.groups[chat_id] = {"name": name or chat_id, "owner": owner, "members": list(members)}

    def issue_welcome_code(self, external_userid: str, staff: str) -> str:
        """A welcome code, as WeCom puts in an add callback; valid for 20 s from now, once."""
        code = "WELCOME-" + secrets.token_hex(8)
        with self._lock:
            self._codes[code] = {
                "customer": external_userid,
                "staff": staff,
                "at": self.clock(),
                "used": False,
            }
        return code

    def add_contact(
        self,
        external_userid: str,
        staff: str,
        *,
        callback_url: str,
        token: str,
        encoding_aes_key: str,
        state: str | None = None,
        half: bool = False,
        name: str | None = None,
        client: httpx.Client | None = None,
    ) -> tuple[str, int]:
        """A customer adds `staff` (through a channel code whose `state` is given): the customer is
        made, a welcome code issued, and the `add_external_contact` callback (event path 92130)
        POSTed to `callback_url` sealed as WeCom seals it (through `client` when given, which keeps
        its connections). Returns the code and the HTTP status."""
        self.add_customer(external_userid, staff, name, state)
        code = self.issue_welcome_code(external_userid, staff)
        change = "add_half_external_contact" if half else "add_external_contact"
        xml = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            "<FromUserName><![CDATA[sys]]></FromUserName>"
            f"<CreateTime>{int(self.clock())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            "<Event><![CDATA[change_external_contact]]></Event>"
            f"<ChangeType><![CDATA[{change}]]></ChangeType><UserID><![CDATA[{staff}]]></UserID>"
            f"<ExternalUserID><![CDATA[{external_userid}]]></ExternalUserID>"
            + (f"<State><![CDATA[{state}]]></State>" if state else "")
            + f"<WelcomeCode><![CDATA[{code}]]></WelcomeCode></xml>"
        )
        return code, self.post_callback(callback_url, xml, token, encoding_aes_key, client)

    def post_callback(
        self,
        callback_url: str,
        xml: str,
        token: str,
        encoding_aes_key: str,
        client: httpx.Client | None = None,
    ) -> int:
        """POST one event `xml` to `callback_url`, encrypted and signed (path 90968); the status."""
        from .crypto import CallbackCrypto

        crypto = CallbackCrypto(token, encoding_aes_key, self.corp_id)
        with self._lock:
            self.callbacks.append(xml)
        timestamp, nonce = str(int(self.clock())), secrets.token_hex(5)
        encrypted = crypto.seal(xml)
        # As WeCom posts it: the envelope holds the ciphertext, the query string the signature.
        body = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<AgentID><![CDATA[{self.agent_id}]]></AgentID></xml>"
        )
        params = {
            "msg_signature": crypto.sign(timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
        }
        post = client.post if client is not None else httpx.post
        return post(callback_url, params=params, content=body.encode(), timeout=10).status_code

    def confirm_task(self, msgid: str, outcomes: Mapping[str, int] | None = None) -> dict[str, int]:
        """The sender taps 发送: each recipient gets status 1 (sent), 2 (not the sender's customer)
        or 3 (already at the quota), unless `outcomes` says otherwise. Returns the statuses."""
        with self._lock:
            task = self.tasks[msgid]
            now = self.clock()
            task.sent_at = int(now)
            for recipient in task.recipients:
                status = (outcomes or {}).get(recipient)
                if status is None:
                    status = self._outcome(task, recipient, now)
                task.results[recipient] = status
                if status == 1 and task.chat_type == "single":
                    self._received.setdefault(recipient, []).append(now)
            return dict(task.results)

    def fail_next(self, api: str, errcode: int, errmsg: str | None = None, times: int = 1) -> None:
        """The next `times` calls of `api` (e.g. `externalcontact/add_msg_template`) answer `errcode`."""
        with self._lock:
            self._failures.setdefault(api, []).extend([(errcode, errmsg or f"fake error {errcode}")] * times)

    def clear_failures(self, api: str) -> None:
        """Calls of `api` are answered normally again (the errors `fail_next` queued are dropped)."""
        with self._lock:
            self._failures.pop(api, None)

    def delay_answers(self, api: str, seconds: float) -> None:
        """Calls of `api` are carried out at once but answered `seconds` later (0: at once again), as
        when the network is slow: a caller that dies meanwhile never learns what WeCom did."""
        with self._lock:
            self._delays[api] = seconds

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now (the next call with one answers 42001)."""
        with self._lock:
            self._tokens = dict.fromkeys(self._tokens, 0.0)

    def calls_to(self, api: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.api == api]

    # -- the HTTP API --------------------------------------------------------------------------------

    def answer(self, method: str, api: str, query: dict[str, str], body: dict[str, Any], ip: str) -> dict:
        """WeCom's JSON answer to one call (the request handler's work)."""
        shown = {k: ("***" if k in ("access_token", "corpsecret") else v) for k, v in query.items()}
        call = Call(api, shown, body, at=self.clock())
        with self._lock:
            self.calls.append(call)
        try:
            with self._lock:
                injected = self._failures.get(api)
                if injected:
                    raise Refusal(*injected.pop(0))
            if api == "gettoken":
                answer = self._gettoken(query)
            else:
                self._check_token(query.get("access_token"))
                if self.trusted_ips is not None and ip not in self.trusted_ips:
                    raise Refusal(
                        60020,
                        f"not allow to access from your ip, hint: [{secrets.token_hex(4)}], from ip: {ip}",
                    )
                handler = APIS.get(api)
                if handler is None:
                    raise Refusal(404, f"the fake does not implement {api}")
                with self._lock:
                    answer = handler(self, query, body)
        except Refusal as error:
            call.errcode = error.errcode
            return {"errcode": error.errcode, "errmsg": error.errmsg}
        return {"errcode": 0, "errmsg": "ok", **answer}

    def _gettoken(self, query: dict[str, str]) -> dict:
        # 获取access_token (path 91039)
        if query.get("corpid") != self.corp_id:
            raise Refusal(40013, "invalid corpid")
        if query.get("corpsecret") != self.secret:
            raise Refusal(40001, "invalid credential")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = self.clock() + TOKEN_TTL
        return {"access_token": token, "expires_in": TOKEN_TTL}

    def _check_token(self, token: str | None) -> None:
        if not token:
            raise Refusal(41001, "access_token missing")
        with self._lock:
            until = self._tokens.get(token)
        if until is None:
            raise Refusal(40014, "invalid access_token")
        if self.clock() >= until:
            raise Refusal(42001, "access_token expired")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many dispatcher threads connect at once


def _handler(fake: FakeWecom) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as WeCom's servers: a client's connection carries many calls.
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                self._json({"errcode": 47001, "errmsg": "data format error"})
                return
            if not parts.path.startswith("/cgi-bin/") or not isinstance(body, dict):
                self._json({"errcode": 47001, "errmsg": "data format error"})
                return
            api = parts.path.removeprefix("/cgi-bin/")
            answer = fake.answer(method, api, query, body, self.client_address[0])
            with fake._lock:
                delay = fake._delays.get(api, 0.0)
            if delay:
                time.sleep(delay)  # the fake's test control: a slow answer, not a measurement
            self._json(answer)

        def _json(self, answer: dict) -> None:
            data = json.dumps(answer, ensure_ascii=False).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read fake.calls
            pass

    return Handler


__all__ = ["Call", "FakeWecom", "Task"]
