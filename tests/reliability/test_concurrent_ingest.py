"""An event id is acted on once even when two server processes receive it at the same moment.

Two real `qunflow serve` processes on one PostgreSQL store; two clients send the same 1,000 events,
three times each, one to each server, at once.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest
from fleet import qunflow_command, wait_until

from qunflow.editor.accounts import Accounts
from qunflow.engine import Engine, RealClock, Store
from qunflow.engine.clock import to_us

EVENTS = 1_000
MEMBERS = 250  # four events each: re-entry `always`, so acting on an event twice shows as a run more
ROUNDS = 3
BATCH = 100

FLOW = {
    "id": "signup-coupon",
    "settings": {"reentry": "always"},
    "nodes": [
        {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
        {"id": "coupon", "type": "action.send_coupon", "config": {"coupon": "hello"}},
    ],
    "edges": [{"from": "start", "to": "coupon"}],
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post(url: str, token: str, events: list[dict[str, Any]]) -> dict[str, int]:
    request = urllib.request.Request(
        url,
        data=json.dumps(events).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 202
        return json.loads(response.read())


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/schema", timeout=2):
            return True
    except OSError:
        return False


def test_the_same_events_sent_to_two_servers_at_once_are_acted_on_once(pg_url: str, tmp_path: Any) -> None:
    pytest.importorskip("qunflow.editor.app", reason="needs the web app (qunflow.editor.app.create_app)")
    store = Store.open(pg_url)
    Engine(store).deploy(FLOW)
    _, token = Accounts(store).create_token("ingest", to_us(RealClock().now()), "concurrency test")
    at = datetime.now(UTC).isoformat()
    events = [
        {"id": f"e-{i}", "type": "signup", "at": at, "member": f"m-{i % MEMBERS}"} for i in range(EVENTS)
    ]
    ports = [free_port(), free_port()]
    env = {**os.environ, "QUNFLOW_ADMIN_PASSWORD": "not-shown-test-password"}
    servers = []
    for index, port in enumerate(ports):
        log = open(tmp_path / f"serve-{index}.log", "wb")  # noqa: SIM115 - the process keeps it
        command = [*qunflow_command(), "serve", "--db", pg_url, "--port", str(port)]
        servers.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env))
        log.close()
        # One after the other: two first starts at once would both create the admin user.
        wait_until(lambda port=port: answers(port), timeout=60)
    answered: list[dict[str, int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(ports))

    def client(port: int) -> None:
        try:
            start.wait()
            for _ in range(ROUNDS):
                for first in range(0, EVENTS, BATCH):
                    answered.append(
                        post(f"http://127.0.0.1:{port}/api/events", token, events[first : first + BATCH])
                    )
        except BaseException as error:  # reported below, with the figures
            errors.append(error)

    try:
        assert wait_until(lambda: all(answers(p) for p in ports), timeout=60), [
            (tmp_path / f"serve-{i}.log").read_text() for i in range(len(ports))
        ]
        clients = [threading.Thread(target=client, args=(port,)) for port in ports]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=20)

    with store.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one()
        runs = conn.exec_driver_sql("SELECT count(*) FROM runs").scalar_one()
    counts = store.node_counts("signup-coupon")["signup-coupon"]
    deliveries = store.deliveries(flow_id="signup-coupon")
    figures = {
        "sent": EVENTS * ROUNDS * len(ports),
        "accepted": sum(a["accepted"] for a in answered),
        "duplicate": sum(a["duplicate"] for a in answered),
        "stored": stored,
        "runs": runs,
        "trigger_entered": counts["start"]["entered"],
        "coupons": len(deliveries),
    }
    print("\nconcurrent ingestion across 2 `qunflow serve` processes:", json.dumps(figures))
    store.close()
    assert errors == []
    assert figures == {
        "sent": 6 * EVENTS,
        "accepted": EVENTS,
        "duplicate": 5 * EVENTS,
        "stored": EVENTS,
        "runs": EVENTS,
        "trigger_entered": EVENTS,
        "coupons": EVENTS,
    }
