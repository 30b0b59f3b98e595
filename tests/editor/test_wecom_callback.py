"""`/wecom/callback` over real HTTP on loopback (DESIGN §20), on SQLite and PostgreSQL: encrypted
callbacks as WeCom sends them become events and start flows, once however often WeCom retries; a
wrong signature, corp id, body or size is refused and stores nothing; URL verification keeps a `+`."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

import httpx
import pytest
import uvicorn
import wecom_xml as x
from sqlalchemy import func, select

from qunflow.editor import wecom_callback
from qunflow.editor.app import create_app
from qunflow.editor.services import Services
from qunflow.editor.wecom_callback import WecomHooks
from qunflow.engine import Registry, SimClock, Store
from qunflow.engine.connectors import installed_connectors
from qunflow.engine.connectors.wecom.crypto import CallbackCrypto
from qunflow.engine.connectors.wecom.options import WecomOptions
from qunflow.engine.event import Profile
from qunflow.engine.store import schema as t


class StandInWecom:
    """The `wecom` connector type, as far as callbacks need it, for when the outbound connector is
    not installed alongside (the real one takes its place when it is)."""

    name: ClassVar[str] = "wecom"
    kinds: ClassVar[frozenset[str]] = frozenset({"welcome"})
    Options: ClassVar[type] = WecomOptions

    @classmethod
    def open(cls, options: Any, context: Any) -> Any:
        return cls()

    def send(self, delivery: Any) -> None:  # pragma: no cover - nothing is routed to it here
        raise AssertionError("not routed")


OPTIONS = {
    "corp_id": x.CORP,
    "secret": "app-secret",
    "agent_id": 1000002,
    "token": x.TOKEN,
    "encoding_aes_key": x.AES_KEY,
}
WELCOME_FLOW = {
    "id": "welcome",
    "name": "欢迎语",
    "settings": {"reentry": "always"},
    "nodes": [
        {"id": "added", "type": "trigger.contact_added", "config": {}},
        {"id": "hello", "type": "action.send_welcome", "config": {"text": "欢迎！"}},
    ],
    "edges": [{"from": "added", "to": "hello"}],
}


@dataclass
class Server:
    base: str
    services: Services
    hooks: WecomHooks

    def post(
        self, xml: str, *, crypto: CallbackCrypto | None = None, nonce: str = "n1", **query: str
    ) -> httpx.Response:
        """POST `xml` as WeCom does: encrypted (fresh random bytes each time, as a retry is), signed."""
        envelope = (crypto or good()).encrypt(xml, nonce=nonce, timestamp="1795312800")
        from defusedxml import ElementTree

        signature = ElementTree.fromstring(envelope).findtext("MsgSignature")
        params = {"msg_signature": signature, "timestamp": "1795312800", "nonce": nonce, **query}
        return httpx.post(f"{self.base}/wecom/callback", params=params, content=envelope.encode(), timeout=30)

    def events(self) -> list[tuple[str, str | None]]:
        with self.services.store.engine.connect() as conn:
            rows = conn.execute(select(t.events.c.type, t.events.c.member_id).order_by(t.events.c.seq))
            return [tuple(r) for r in rows]

    def count(self, table: Any) -> int:
        with self.services.store.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(table)).scalar() or 0


def good() -> CallbackCrypto:
    return CallbackCrypto(x.TOKEN, x.AES_KEY, x.CORP)


def serving(services: Services, hooks: WecomHooks) -> Iterator[str]:
    app = create_app(services, worker=False, wecom_hooks=hooks)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.02)  # waiting for the socket to be bound, not measuring anything
    assert server.started, "the test server did not start"
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def open_services(store_url: str, registry: Registry, clock: SimClock) -> Services:
    types = dict(installed_connectors())
    types.setdefault("wecom", StandInWecom)  # type: ignore[arg-type]
    store = Store.open(store_url)
    store.migrate()
    return Services(store, registry, clock, connector_types=types)


@pytest.fixture
def server(store_url: str, registry: Registry, clock: SimClock) -> Iterator[Server]:
    services = open_services(store_url, registry, clock)
    services.connectors.configure("wecom", OPTIONS, services.connector_context(), services.now_us())
    services.engine.deploy(WELCOME_FLOW)
    synced: list[Any] = []
    hooks = WecomHooks(
        fetch_profile=lambda options, external: Profile(name=f"客户 {external}"),
        sync_group=lambda options, chat: synced.append(("group", chat)),
        sync_tags=lambda options: synced.append(("tags",)),
    )
    try:
        for base in serving(services, hooks):
            server = Server(base, services, hooks)
            server.synced = synced  # type: ignore[attr-defined]
            yield server
    finally:
        services.close()


def test_a_good_add_callback_stores_the_event_and_runs_the_flow(server: Server) -> None:
    answer = server.post(x.added("wmAlice"))
    assert answer.status_code == 200 and answer.text == ""
    assert server.events() == [("contact_added", "wmAlice")]
    member = server.services.store.get_member("wmAlice")
    assert member.staff == "zhangsan" and member.channel == "qr-live"
    (welcome,) = server.services.store.deliveries(kind="welcome")
    assert welcome["member"] == "wmAlice" and welcome["flow"] == "welcome"
    assert welcome["payload"]["welcome_code"] == "WELCOMECODE-1"


def test_the_same_callback_twice_is_one_event_and_one_run(server: Server) -> None:
    assert server.post(x.added("wmBob"), nonce="first").status_code == 200
    assert server.post(x.added("wmBob"), nonce="retry").status_code == 200
    assert server.events() == [("contact_added", "wmBob")]
    assert len(server.services.store.runs(flow_id="welcome")) == 1
    assert len(server.services.store.deliveries(kind="welcome")) == 1


def test_group_member_changes_in_both_shapes(server: Server) -> None:
    assert server.post(x.update("add_member", x.members_items(["wmA", "zhangsan", "wmB"]))).status_code == 200
    assert server.post(x.update("del_member", x.members_csv(["wmA"]), at=x.CREATED + 60)).status_code == 200
    assert server.events() == [("member_joined", "wmA"), ("member_joined", "wmB"), ("member_left", "wmA")]
    assert server.services.store.get_member("wmB").groups == ["wrChat01"]
    assert server.services.store.get_member("wmA").groups == []


def test_edit_fetches_the_profile_and_groups_and_tags_are_synced_after_the_answer(server: Server) -> None:
    assert server.post(x.contact("edit_external_contact", external="wmCarol")).status_code == 200
    assert server.services.store.get_member("wmCarol").name == "客户 wmCarol"
    assert server.post(x.chat("create", chat_id="wrNew")).status_code == 200
    assert server.post(x.tag_change()).status_code == 200
    assert server.services.store.get_group("wrNew")["id"] == "wrNew"
    deadline = time.monotonic() + 10
    while len(server.synced) < 2 and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.05)  # the syncs run after the answer, in the background
    assert server.synced == [("group", "wrNew"), ("tags",)]  # type: ignore[attr-defined]


def test_a_dismissed_group_is_marked_once(server: Server) -> None:
    assert server.post(x.chat("dismiss", chat_id="wrOld")).status_code == 200
    assert server.post(x.chat("dismiss", chat_id="wrOld", at=x.CREATED + 5)).status_code == 200
    group = server.services.store.get_group("wrOld")
    assert group["dismissed_at"] is not None and int(group["dismissed_at"].timestamp()) == x.CREATED


def test_a_slow_profile_fetch_does_not_hold_the_answer(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    monkeypatch.setattr(wecom_callback, "PROFILE_WAIT", 0.2)
    object.__setattr__(server.hooks, "fetch_profile", lambda options, external: release.wait(30) and None)
    try:
        assert server.post(x.contact("edit_external_contact", external="wmDan")).status_code == 200
        assert server.events() == [("member_updated", "wmDan")]
        assert server.services.store.get_member("wmDan").name is None
    finally:
        release.set()


@pytest.mark.parametrize(
    "case",
    [
        "bad signature",
        "wrong corp",
        "other key",
        "garbage",
        "no Encrypt",
        "missing query",
        "oversized",
        "entity",
    ],
)
def test_a_refused_callback_stores_nothing(server: Server, case: str) -> None:
    base = f"{server.base}/wecom/callback"
    ok = {"msg_signature": "0" * 40, "timestamp": "1795312800", "nonce": "n"}
    if case == "bad signature":
        answer = server.post(x.added(), msg_signature="0" * 40)
        status = 403
    elif case == "wrong corp":
        answer = server.post(x.added(), crypto=CallbackCrypto(x.TOKEN, x.AES_KEY, "wwOtherCorp"))
        status = 403
    elif case == "other key":
        answer = server.post(x.added(), crypto=CallbackCrypto(x.TOKEN, "a" * 43, x.CORP))
        status = 400
    elif case == "garbage":
        answer = httpx.post(base, params=ok, content=b"\x00\xff not xml")
        status = 400
    elif case == "no Encrypt":
        answer = httpx.post(base, params=ok, content=b"<xml><ToUserName>x</ToUserName></xml>")
        status = 400
    elif case == "missing query":
        answer = httpx.post(base, content=good().encrypt(x.added(), nonce="n", timestamp="1").encode())
        status = 400
    elif case == "entity":
        answer = httpx.post(
            base, params=ok, content=b'<!DOCTYPE x [<!ENTITY e "b">]><xml><Encrypt>&e;</Encrypt></xml>'
        )
        status = 400
    else:
        answer = httpx.post(
            base, params=ok, content=b"<xml>" + b"a" * (wecom_callback.MAX_CALLBACK_BODY + 1) + b"</xml>"
        )
        status = 413
    assert answer.status_code == status, answer.text
    assert server.count(t.events) == 0 and server.count(t.members) == 0 and server.count(t.runs) == 0


def echostr_with_a_plus(crypto: CallbackCrypto) -> str:
    for _ in range(200):
        echostr = crypto.seal("8452739874059230495")
        if "+" in echostr:
            return echostr
    raise AssertionError("no echostr with a + in 200 tries")


def test_url_verification_answers_the_plaintext_with_a_plus_in_echostr(server: Server) -> None:
    crypto = good()
    echostr = echostr_with_a_plus(crypto)
    signature = crypto.sign("1795312800", "963", echostr)
    query = {"msg_signature": signature, "timestamp": "1795312800", "nonce": "963", "echostr": echostr}
    answer = httpx.get(f"{server.base}/wecom/callback?{urlencode(query, quote_via=quote)}")
    assert answer.status_code == 200 and answer.text == "8452739874059230495"
    # A `+` sent unescaped (as some proxies pass it) is still a `+`, never a space.
    raw = "&".join(f"{k}={v}" for k, v in query.items())
    assert "+" in raw
    again = httpx.get(f"{server.base}/wecom/callback?{raw}")
    assert again.status_code == 200 and again.text == "8452739874059230495"
    wrong = httpx.get(f"{server.base}/wecom/callback", params={**query, "msg_signature": "0" * 40})
    assert wrong.status_code == 403
    missing = httpx.get(f"{server.base}/wecom/callback", params={"timestamp": "1"})
    assert missing.status_code == 400 and "msg_signature" in missing.json()["message"]


def test_not_configured_is_409_and_stores_nothing(
    store_url: str, registry: Registry, clock: SimClock
) -> None:
    services = open_services(store_url, registry, clock)
    try:
        for base in serving(services, WecomHooks()):
            answer = httpx.post(
                f"{base}/wecom/callback", params={"msg_signature": "x", "timestamp": "1", "nonce": "n"}
            )
            assert answer.status_code == 409 and "not configured" in answer.json()["message"]
            assert httpx.get(f"{base}/wecom/callback").status_code == 409
    finally:
        services.close()


def test_the_hooks_default_to_the_connector_types_class_methods(
    store_url: str, registry: Registry, clock: SimClock
) -> None:
    class WithHooks(StandInWecom):
        @classmethod
        def callback_fetch_profile(cls, options: WecomOptions, external: str) -> Profile:
            return Profile(name=f"{options.corp_id}/{external}")

    services = open_services(store_url, registry, clock)
    services.connectors.types["wecom"] = WithHooks  # type: ignore[assignment]
    try:
        hooks = WecomHooks.of_connector(services)
        assert hooks.sync_group is None and hooks.sync_tags is None
        assert hooks.fetch_profile is not None
        options = WecomOptions(**OPTIONS)  # type: ignore[arg-type]
        assert hooks.fetch_profile(options, "wmA") == Profile(name=f"{x.CORP}/wmA")
        assert WecomHooks.of_connector(open_services_without_wecom(services)) == WecomHooks()
    finally:
        services.close()


def open_services_without_wecom(services: Services) -> Services:
    services.connectors.types.pop("wecom")
    return services
