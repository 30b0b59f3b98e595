"""Ingestion over HTTP: W's events posted in batches of 500 to `qunflow serve` on loopback.

The server is the real one, started as its own process (`qunflow serve`) on a free port, with an
`ingest` token from `qunflow token create`. Two client connections post batches back to back over
keep-alive. When the web app or those commands are not there, the workload says so instead of a figure.
"""

from __future__ import annotations

import http.client
import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import msgspec

from qunflow.engine import Engine, SimClock, Store, default_registry

from . import reference as w
from .measure import backend, per_second

BATCH = 500
CLIENTS = 2
START_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _qunflow(*args: str) -> list[str]:
    return [sys.executable, "-m", "qunflow.editor.cli", *args]


def _unavailable(members: int, url: str, why: str) -> dict[str, Any]:
    return {"members": members, "backend": backend(url), "available": False, "reason": why}


def _token(url: str) -> str | None:
    done = subprocess.run(
        _qunflow("token", "create", "--role", "ingest", "--db", url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stdout.strip().splitlines()
    return lines[-1].strip() if done.returncode == 0 and lines else None


def _wait_until_serving(port: int, server: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/schema")
            conn.getresponse().read()
            conn.close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def _bodies(members: int) -> list[bytes]:
    events = [w.join_event(i) for i in range(members)]
    events += [w.chat_event(i) for i in range(members) if w.is_active(i)]
    return [msgspec.json.encode(events[i : i + BATCH]) for i in range(0, len(events), BATCH)]


def _post_all(port: int, token: str, bodies: list[bytes], failures: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for body in bodies:
        conn.request("POST", "/api/events", body=body, headers=headers)
        answer = conn.getresponse()
        text = answer.read()
        if answer.status != 202:
            failures.append(f"{answer.status}: {text[:200].decode('utf-8', 'replace')}")
            return
    conn.close()


def measure(members: int, url: str) -> dict[str, Any]:
    """Post W's joins and chats for `members` over HTTP; events per second end to end."""
    if importlib.util.find_spec("qunflow.editor.app") is None:
        return _unavailable(members, url, "the web app (editor/app.py) is not there yet")
    store = Store.open(url)
    try:
        Engine(store, default_registry(), SimClock(w.T0)).deploy(w.bench_flow(members))
        with store.transaction() as conn:
            store.upsert_groups(conn, [{"id": w.FANS_GROUP, "name": "粉丝福利 1 群", "tags": ["fans"]}])
    finally:
        store.close()
    token = _token(url)
    if token is None:
        return _unavailable(members, url, "`qunflow token create --role ingest` did not print a token")
    bodies = _bodies(members)
    port = _free_port()
    env = {**os.environ, "QUNFLOW_ADMIN_PASSWORD": os.environ.get("QUNFLOW_ADMIN_PASSWORD", "bench-only")}
    server = subprocess.Popen(
        _qunflow("serve", "--db", url, "--port", str(port)),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        if not _wait_until_serving(port, server):
            error = (
                server.stderr.read().decode("utf-8", "replace")[-300:] if server.poll() is not None else ""
            )
            return _unavailable(members, url, f"`qunflow serve` did not answer on loopback {error}".strip())
        failures: list[str] = []
        shares = [bodies[i::CLIENTS] for i in range(CLIENTS)]
        threads = [threading.Thread(target=_post_all, args=(port, token, s, failures)) for s in shares]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    events = sum(len(msgspec.json.decode(b)) for b in bodies)
    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            stored = conn.exec_driver_sql("SELECT COUNT(*) FROM events").scalar()
            parked = conn.exec_driver_sql("SELECT COUNT(*) FROM runs WHERE status = 'waiting'").scalar()
    finally:
        store.close()
    return {
        "members": members,
        "backend": backend(url),
        "available": True,
        "events": events,
        "batch": BATCH,
        "clients": CLIENTS,
        "events_per_s": per_second(events, seconds),
        "stored": stored,
        "parked": parked,
        "failures": failures[:3],
        "seconds": round(seconds, 3),
    }
