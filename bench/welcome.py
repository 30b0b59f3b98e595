"""The welcome fast path (DESIGN §21): add callbacks from a fake WeCom at a steady rate into a real
`qunflow serve`, while a broadcast to N members is dispatched through the same WeCom connector; the
time from each callback to its `send_welcome_msg` at the fake.

The fake WeCom runs in this process, on loopback; `serve` is a process of its own on a fresh
database holding N members (tagged `fans`, each a customer of one staff account). At the start one
event fires a broadcast to all of them (mass sends, batched by the connector); then `rate` customers a
second add a staff account for `seconds` seconds, each add an encrypted callback. A welcome counts
when the fake answered its `send_welcome_msg` without error; the fake, like WeCom, refuses a code
older than 20 s, so a late welcome is a missed one.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import text

from qunflow.engine import RealClock, Store
from qunflow.engine.clock import to_us
from qunflow.engine.connectors.wecom.fake import FakeWecom

from . import broadcast
from .measure import backend

TOKEN = "bench-callback-token"
AES_KEY = "benchEncodingAESKey0123456789abcdefghijklmn"  # 43 characters
STAFF = "bench-staff"
SENDERS = 256  # threads posting callbacks: WeCom does not wait for one answer before the next callback,
# so slow answers must not hold back the schedule (at 200/s, up to 1.3 s of answers outstanding)
WINDOW = 10.0  # seconds of callbacks per figure in `p99_by_window_s`
GRACE = 25.0  # seconds after the last callback: past WeCom's 20 s window nothing more can count
WELCOME = "externalcontact/send_welcome_msg"
WELCOME_FLOW = {
    "id": "welcome",
    "name": "新客欢迎",
    "settings": {"reentry": "always"},
    "nodes": [
        {"id": "added", "type": "trigger.contact_added", "config": {}},
        {"id": "hello", "type": "action.send_welcome", "config": {"text": "欢迎！"}},
    ],
    "edges": [{"from": "added", "to": "hello"}],
}
LAUNCH_FLOW = {
    "id": "launch",
    "name": "新品群发",
    "nodes": [
        {"id": "go", "type": "trigger.event", "config": {"event": "launch"}},
        {
            "id": "news",
            "type": "action.broadcast",
            "config": {"audience": {"tags_any": ["fans"]}, "text": "新品今天上架"},
        },
    ],
    "edges": [{"from": "go", "to": "news"}],
}


def store_members(members: int, url: str) -> dict[str, Any]:
    """N members tagged `fans`, each owned by the bench's staff account, and an admin token."""
    from qunflow.editor.accounts import Accounts

    loaded = broadcast.store_members(members, url)
    store = Store.open(url)
    try:
        with store.transaction() as conn:
            conn.execute(text("UPDATE members SET staff = :s"), {"s": STAFF})
        _, token = Accounts(store).create_token("admin", to_us(RealClock().now()), "bench")
    finally:
        store.close()
    return {**loaded, "token": token}


def measure(members: int, url: str, rate: float, seconds: float, workdir: Path, token: str) -> dict[str, Any]:
    """Run the workload against `serve` on `url` (N members stored); the figures."""
    env = {**os.environ, "QUNFLOW_SECRET_KEY": Fernet.generate_key().decode()}
    port = _free_port()
    log = open(workdir / "serve.log", "wb")  # noqa: SIM115 - the process keeps it
    serve = subprocess.Popen(
        [sys.executable, "-m", "qunflow.editor.cli", "serve", "--db", url, "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    base = f"http://127.0.0.1:{port}"
    try:
        with FakeWecom(quota=1, quota_per="day") as fake:
            fake.add_staff(STAFF)
            api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
            _wait_up(api, serve, workdir)
            _configure(api, fake)
            _ok(api.post("/api/events", json=_launch_event()), "the broadcast's event")
            sent = _play_adds(fake, f"{base}/wecom/callback", rate, seconds)
            ended = time.time()
            _wait_for_welcomes(fake, len(sent), ended + GRACE)
            figures = _figures(fake, sent)
            figures["stages"] = _stages(url, fake, sent)
            figures["broadcast"] = _broadcast_progress(url, members, fake)
            figures["welcome_deliveries"] = _statuses(url, "welcome")
            figures["welcome_calls_refused"] = sum(1 for c in fake.calls_to(WELCOME) if c.errcode)
            moments = sorted(s["at"] for s in sent.values())
            span = moments[-1] - moments[0] if len(moments) > 1 else 0.0
            # The rate the callbacks were posted at: below `rate` when `serve` answered too slowly.
            figures["callbacks_per_s"] = round((len(moments) - 1) / span, 1) if span else None
            api.close()
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
    return {"backend": backend(url), "members": members, "rate": rate, "seconds": seconds, **figures}


def _configure(api: httpx.Client, fake: FakeWecom) -> None:
    options = {
        "corp_id": fake.corp_id,
        "secret": fake.secret,
        "agent_id": fake.agent_id,
        "token": TOKEN,
        "encoding_aes_key": AES_KEY,
        "api_base": fake.url,
    }
    _ok(api.put("/api/connectors/wecom", json=options), "configuring the wecom connector")
    _ok(api.put("/api/connectors/routes", json={"welcome": "wecom", "message": "wecom"}), "routes")
    for flow in (WELCOME_FLOW, LAUNCH_FLOW):
        _ok(api.post("/api/flows", json=flow), f"flow {flow['id']}")
        _ok(api.post(f"/api/flows/{flow['id']}/publish"), f"publishing {flow['id']}")


def _launch_event() -> dict[str, Any]:
    now = RealClock().now().isoformat()
    return {"id": "launch-1", "type": "launch", "member": "m-0000000", "at": now}


def _play_adds(fake: FakeWecom, url: str, rate: float, seconds: float) -> dict[str, dict[str, Any]]:
    """`rate` adds a second for `seconds`, on a fixed schedule; each code → when it was posted and
    the HTTP status it got."""
    total = max(1, int(rate * seconds))
    sent: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()
    # Every lane makes its client (each loads a CA bundle: seconds of CPU for all of them) before the
    # schedule starts, so that the harness's own start-up does not take the cores from `serve`.
    ready = threading.Barrier(SENDERS + 1)
    go = threading.Event()
    start = 0.0

    def sender(lane: int) -> None:
        with httpx.Client(timeout=30) as client:
            ready.wait()
            go.wait()
            for number in range(lane, total, SENDERS):
                delay = start + number / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # keeping to the schedule
                customer = f"wm-bench-{number:07d}-{secrets.token_hex(2)}"
                at = time.time()
                began = time.perf_counter()
                try:
                    code, status = fake.add_contact(
                        customer,
                        STAFF,
                        callback_url=url,
                        token=TOKEN,
                        encoding_aes_key=AES_KEY,
                        client=client,
                    )
                except httpx.TransportError as error:
                    code, status = f"unsent-{number}", type(error).__name__
                with lock:
                    sent[code] = {
                        "at": at,
                        "customer": customer,
                        "status": status,
                        "answered_s": time.perf_counter() - began,
                    }

    threads = [threading.Thread(target=sender, args=(lane,), daemon=True) for lane in range(SENDERS)]
    for thread in threads:
        thread.start()
    ready.wait()
    start = time.monotonic() + 0.5
    go.set()
    for thread in threads:
        thread.join()
    return sent


def _wait_for_welcomes(fake: FakeWecom, expected: int, until: float) -> None:
    while time.time() < until and len(fake.welcomes) < expected:
        time.sleep(0.25)  # waiting for stragglers, not measuring


def _figures(fake: FakeWecom, sent: dict[str, dict[str, Any]]) -> dict[str, Any]:
    calls = Counter(c.body.get("welcome_code") for c in fake.calls_to(WELCOME))
    welcomed = {c.body.get("welcome_code"): c.at for c in fake.calls_to(WELCOME) if c.errcode == 0}
    latencies = sorted(welcomed[code] - s["at"] for code, s in sent.items() if code in welcomed)
    refused = sum(1 for s in sent.values() if s["status"] != 200)
    missed = sum(1 for code in sent if code not in welcomed)
    twice = sum(1 for n in calls.values() if n > 1)
    answered = sorted(s["answered_s"] for s in sent.values())
    start = min((s["at"] for s in sent.values()), default=0.0)
    windows: dict[int, list[float]] = {}
    for code, s in sent.items():
        if code in welcomed:
            windows.setdefault(int((s["at"] - start) // WINDOW), []).append(welcomed[code] - s["at"])
    return {
        "callbacks": len(sent),
        "callbacks_refused": refused,
        "welcomed": len(latencies),
        "missed": missed,
        "welcome_calls_repeated": twice,
        "exactly_once": missed == 0 and twice == 0 and len(welcomed) == len(sent),
        "p50_s": _quantile(latencies, 0.50),
        "p99_s": _quantile(latencies, 0.99),
        "max_s": round(latencies[-1], 3) if latencies else None,
        "over_2s": sum(1 for x in latencies if x > 2.0),
        "over_20s": sum(1 for x in latencies if x > 20.0),
        # p99 of each WINDOW seconds of callbacks: whether the slow ones bunch (the broadcast's walk).
        "p99_by_window_s": [_quantile(sorted(windows[w]), 0.99) for w in sorted(windows)],
        # How long `serve` took to answer a callback (WeCom wants an answer within 5 s).
        "callback_answer_p50_s": _quantile(answered, 0.50),
        "callback_answer_p99_s": _quantile(answered, 0.99),
    }


def _stages(url: str, fake: FakeWecom, sent: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Where the time went, p50 / p99 in seconds: from the callback's post to the welcome delivery's
    making (the callback answered and its flow stepped), and from there to `send_welcome_msg`."""
    welcomed = {c.body.get("welcome_code"): c.at for c in fake.calls_to(WELCOME) if c.errcode == 0}
    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            made = dict(
                conn.execute(text("SELECT member_id, at FROM deliveries WHERE flow_id = 'welcome'")).all()
            )
    finally:
        store.close()
    to_made, to_sent = [], []
    for code, s in sent.items():
        at = made.get(s["customer"])
        if at is None or code not in welcomed:
            continue
        to_made.append(at / 1e6 - s["at"])
        to_sent.append(welcomed[code] - at / 1e6)
    to_made.sort()
    to_sent.sort()
    return {
        "callback_to_delivery_s": [_quantile(to_made, 0.5), _quantile(to_made, 0.99)],
        "delivery_to_welcome_s": [_quantile(to_sent, 0.5), _quantile(to_sent, 0.99)],
    }


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def _statuses(url: str, flow: str) -> dict[str, int]:
    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT status, count(*) FROM deliveries WHERE flow_id = :f GROUP BY status"),
                {"f": flow},
            ).all()
    finally:
        store.close()
    return {status: count for status, count in rows}


def _broadcast_progress(url: str, members: int, fake: FakeWecom) -> dict[str, Any]:
    """How far the broadcast's dispatch got while the callbacks came in."""
    return {
        "members": members,
        "deliveries": _statuses(url, "launch"),
        "mass_send_tasks": len(fake.tasks),
    }


def _wait_up(api: httpx.Client, serve: subprocess.Popen[bytes], workdir: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if serve.poll() is not None:
            raise RuntimeError("serve ended at start: " + (workdir / "serve.log").read_text(errors="replace"))
        try:
            if api.get("/login").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # waiting for the server to listen
    raise RuntimeError("serve did not start within 120 s")


def _ok(answer: httpx.Response, what: str) -> None:
    if answer.status_code not in (200, 202):
        raise RuntimeError(f"{what}: {answer.status_code} {answer.text[:300]}")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
