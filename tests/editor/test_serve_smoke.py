"""`qunflow serve` for real: uvicorn on loopback, the worker in the same process, driven over HTTP."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import joined, login_csrf

from qunflow.editor.cli import main

DEADLINE = 60.0  # generous: only a hung server takes this long


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def eventually(check: Callable[[], Any], what: str) -> Any:
    """Poll until `check` returns something truthy (the worker runs on its own schedule)."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A `qunflow serve` process on a fresh SQLite file: (base URL, the admin password it printed)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "QUNFLOW_ADMIN_PASSWORD"}
    database = f"sqlite:///{tmp_path / 'q.db'}"
    command = [sys.executable, "-m", "qunflow.editor.cli", "serve", "--db", database, "--port", str(port)]
    output = subprocess.PIPE
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "open http://" in line:
                break
        output = "".join(lines)
        match = re.search(r"created user admin with password (\S+)", output)
        assert match, output
        base = f"http://127.0.0.1:{port}"
        eventually(lambda: _up(base), "the server to listen")
        yield base, match.group(1)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/login", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_a_journey_over_http_with_the_worker_in_the_same_process(server: tuple[str, str]) -> None:
    base, password = server
    browser = httpx.Client(base_url=base, timeout=10, follow_redirects=True)
    page = browser.get("/login")
    signed_in = browser.post(
        "/login", data={"username": "admin", "password": password, "_csrf": login_csrf(page.text)}
    )
    assert signed_in.status_code == 200 and "qunflow" in signed_in.text
    made = browser.post(
        "/api/tokens", json={"role": "admin"}, headers={"X-CSRF-Token": browser.cookies["qunflow_csrf"]}
    )
    assert made.status_code == 201, made.text
    api = httpx.Client(base_url=base, timeout=10, headers={"Authorization": f"Bearer {made.json()['token']}"})

    flow = {
        "id": "welcome",
        "name": "欢迎",
        "nodes": [
            {"id": "joined", "type": "trigger.member_joined", "config": {}},
            {"id": "tag", "type": "action.add_tag", "config": {"tags": ["new"]}},
            {"id": "wait", "type": "wait.delay", "config": {"duration": "PT1S"}},
            {"id": "coupon", "type": "action.send_coupon", "config": {"coupon": "welcome-10"}},
        ],
        "edges": [
            {"from": "joined", "to": "tag"},
            {"from": "tag", "to": "wait"},
            {"from": "wait", "to": "coupon"},
        ],
    }
    assert api.post("/api/flows", json=flow).status_code == 200
    assert api.post("/api/flows/welcome/publish").json() == {"flow": "welcome", "version": 1}

    batch = [joined("e-1", "m-1"), joined("e-2", "m-2"), joined("e-1", "m-1")]
    ingested = api.post("/api/events", json=batch)
    assert (ingested.status_code, ingested.json()) == (202, {"accepted": 2, "duplicate": 1})
    again = api.post("/api/events", json=joined("e-2", "m-2"))
    assert again.json() == {"accepted": 0, "duplicate": 1}

    # The in-process worker wakes the waiting runs a second later and the coupons go out.
    def delivered() -> list[dict[str, Any]] | None:
        items = api.get("/api/deliveries").json()["items"]
        return items if len(items) == 2 else None

    deliveries = eventually(delivered, "the worker to deliver both coupons")
    assert sorted((d["member"], d["kind"], d["payload"]) for d in deliveries) == [
        ("m-1", "coupon", {"coupon": "welcome-10"}),
        ("m-2", "coupon", {"coupon": "welcome-10"}),
    ]

    member = api.get("/api/members/m-1").json()
    assert member["member"]["tags"] == ["new"]
    assert {entry["kind"] for entry in member["timeline"]} == {"event", "run", "delivery"}

    stats = api.get("/api/flows/welcome/stats").json()
    assert stats["runs"]["done"] == 2
    assert {node: s["entered"] for node, s in stats["nodes"].items()} == {
        "joined": 2,
        "tag": 2,
        "wait": 2,
        "coupon": 2,
    }
    assert api.get("/schema/openapi.json").status_code == 200


def test_serve_refuses_a_port_that_is_not_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["serve", "--port", "99999"])
    assert exit.value.code == 2
    assert "--port" in capsys.readouterr().err


def test_serve_refuses_a_short_admin_password(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("QUNFLOW_ADMIN_PASSWORD", "short")
    assert main(["serve", "--db", f"sqlite:///{tmp_path / 'q.db'}"]) == 1
    assert capsys.readouterr().err.strip() == "qunflow serve: QUNFLOW_ADMIN_PASSWORD: at least 8 characters"
    assert not (tmp_path / "q.db").exists()
