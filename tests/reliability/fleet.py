"""A fleet for fault tests: `qunflow worker` processes on one PostgreSQL store, a webhook receiver
on 127.0.0.1 that counts effects by idempotency key, and what the tests measure with them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import text

from qunflow.engine import Engine, Event, RealClock, Store
from qunflow.engine.connectors import (
    KEY_HEADER,
    SIGNATURE_HEADER,
    ConnectorContext,
    ConnectorSettings,
    verify,
)
from qunflow.engine.vault import Vault

SECRET = "fault-test-secret"


def delay_flow(flow_id: str = "storm", delay: str = "PT3S") -> dict[str, Any]:
    """signup → wait `delay` → send a coupon: one step after the wait, one delivery per journey."""
    return {
        "id": flow_id,
        "settings": {"reentry": "always"},
        "nodes": [
            {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
            {"id": "wait", "type": "wait.delay", "config": {"duration": delay}},
            {"id": "coupon", "type": "action.send_coupon", "config": {"coupon": "welcome-10"}},
        ],
        "edges": [{"from": "start", "to": "wait"}, {"from": "wait", "to": "coupon"}],
    }


def signups(count: int, prefix: str = "e") -> list[Event]:
    now = datetime.now(UTC)
    return [Event(id=f"{prefix}-{i}", type="signup", at=now, member=f"m-{i}") for i in range(count)]


class Receiver:
    """An HTTP endpoint that makes each delivery's effect once per idempotency key."""

    def __init__(self) -> None:
        self.requests = 0
        self.bad_signatures = 0
        self.aborted = 0  # requests cut off by a killed worker
        self.effects: dict[str, dict[str, Any]] = {}
        self.redelivered: Counter[str] = Counter()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    with receiver._lock:
                        receiver.aborted += 1
                    return
                receiver._take(body, self.headers.get(KEY_HEADER), self.headers.get(SIGNATURE_HEADER))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/effects"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _take(self, body: bytes, key: str | None, signature: str | None) -> None:
        with self._lock:
            self.requests += 1
            if key is None or not verify(SECRET.encode(), body, signature):
                self.bad_signatures += 1
                return
            if key in self.effects:
                self.redelivered[key] += 1
                return
            self.effects[key] = json.loads(body)

    def effects_per_member(self) -> Counter[str]:
        with self._lock:
            return Counter(e["member"] for e in self.effects.values())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def route_to_receiver(db: str, url: str) -> None:
    """Configure the webhook connector, as an admin would, to post every kind to `url` on loopback."""
    store = Store.open(db)
    try:
        settings = ConnectorSettings(store, Vault.for_database(db))
        context = ConnectorContext(store, RealClock())
        options = {"secret": SECRET, "url": url, "allow": ["127.0.0.1/32"]}
        settings.configure("webhook", options, context, 0)
        settings.set_routes(dict.fromkeys(("coupon", "message", "webhook"), "webhook"))
    finally:
        store.close()


def qunflow_command() -> list[str]:
    script = Path(sys.executable).with_name("qunflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "qunflow.editor.cli"]


class Fleet:
    """`qunflow worker` processes, started, killed and restarted by slot."""

    def __init__(
        self, db: str, logs: Path, receiver: Receiver | None, lease: float, poll: float = 0.2
    ) -> None:
        self.db = db
        self.logs = logs
        self.receiver = receiver
        self.lease = lease
        self.poll = poll
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.started = 0
        self.kills = 0

    def start(self, slot: int) -> subprocess.Popen[bytes]:
        command = [
            *qunflow_command(),
            "worker",
            "--db",
            self.db,
            "--lease",
            str(self.lease),
            "--poll",
            str(self.poll),
        ]
        if self.receiver is not None and not self.started:
            route_to_receiver(self.db, self.receiver.url)
        env = dict(os.environ)
        log = open(self.logs / f"worker-{slot}-{self.started}.log", "wb")  # noqa: SIM115 - the process keeps it
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        self.procs[slot] = proc
        self.started += 1
        return proc

    def kill(self, slot: int) -> int:
        """SIGKILL the worker in `slot`; returns its process id."""
        proc = self.procs[slot]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.kills += 1
        return proc.pid

    def alive(self) -> list[int]:
        return [slot for slot, proc in self.procs.items() if proc.poll() is None]

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log_tail(self, lines: int = 20) -> str:
        tails = []
        for path in sorted(self.logs.glob("worker-*.log")):
            content = path.read_text(errors="replace").splitlines()[-lines:]
            tails.append(f"--- {path.name}\n" + "\n".join(content))
        return "\n".join(tails)


class Figures:
    """What a fault test reads back from the store."""

    def __init__(self, store: Store, flow_id: str) -> None:
        self.store = store
        self.flow_id = flow_id

    def snapshot(self) -> dict[str, Any]:
        statuses = self.store.journey_statuses(self.flow_id).get(self.flow_id, {})
        counts = self.store.node_counts(self.flow_id).get(self.flow_id, {})
        return {
            "journeys": statuses,
            "wait_left": counts.get("wait", {}).get("port:next", 0),
            "coupon_entered": counts.get("coupon", {}).get("entered", 0),
            "deliveries": self.store.delivery_statuses(),
        }

    def orphans(self, pid: int) -> tuple[list[int], int | None]:
        """Runs still leased by the worker process `pid` (a killed one), and when the leases end."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id, lease_until FROM runs WHERE lease_owner LIKE :owner"),
                {"owner": f"worker:%:{pid}:%"},
            ).all()
        return [r[0] for r in rows], max((r[1] for r in rows), default=None)

    def lease_holders(self) -> set[int]:
        """Process ids of the workers holding run leases now."""
        with self.store.engine.connect() as conn:
            owners = conn.execute(text("SELECT DISTINCT lease_owner FROM runs WHERE lease_owner IS NOT NULL"))
            return {int(owner.split(":")[2]) for (owner,) in owners}

    def still_leased(self, ids: list[int], pid: int) -> int:
        if not ids:
            return 0
        with self.store.engine.connect() as conn:
            return conn.execute(
                text("SELECT count(*) FROM runs WHERE id = ANY(:ids) AND lease_owner LIKE :owner"),
                {"ids": ids, "owner": f"worker:%:{pid}:%"},
            ).scalar_one()


def feed(engine: Engine, events: list[Event], chunk: int, pause: float) -> threading.Thread:
    """Ingest `events` in chunks from a thread, pausing between chunks (journeys keep arriving)."""

    def run() -> None:
        for start in range(0, len(events), chunk):
            engine.ingest(events[start : start + chunk])
            time.sleep(pause)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()
