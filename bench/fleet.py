"""`qunflow worker` processes on one store, started, killed and restarted by slot: the fleet that the
scale-out bench and the reliability tests drive (`tests/reliability/fleet.py` adds a receiver
that counts effects, and what the fault tests read back)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from qunflow.engine import RealClock, Store
from qunflow.engine.connectors import ConnectorContext, ConnectorSettings
from qunflow.engine.vault import Vault

# The webhook connector's signing secret the fleet configures, and its receiver checks.
SECRET = "fault-test-secret"


class Endpoint(Protocol):
    """Where the fleet's webhook deliveries go."""

    url: str


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
        self, db: str, logs: Path, receiver: Endpoint | None, lease: float, poll: float = 0.2
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


def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()
