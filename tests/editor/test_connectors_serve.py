"""`qunflow serve` and `qunflow worker` as real processes send through the connectors admins
configured: a webhook to a receiver on loopback, and a connector installed from another package.
With nothing configured, deliveries are recorded and the pages say nothing was sent."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from connector_kit import Receiver, coupon_and_message_flow, make_tiny_distribution, signup
from test_serve_smoke import eventually, free_port

from qunflow.engine import Engine, Event, RealClock, Store
from qunflow.engine.connectors import (
    KEY_HEADER,
    SIGNATURE_HEADER,
    ConnectorContext,
    ConnectorSettings,
    verify,
)
from qunflow.engine.vault import Vault

SECRET = "serve-webhook-secret"


def qunflow(*args: str) -> list[str]:
    return [sys.executable, "-m", "qunflow.editor.cli", *args]


def environment(site: Path) -> dict[str, str]:
    """The test's environment with the tiny connector package on PYTHONPATH (as if installed)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    return env


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    """`qunflow serve` on a fresh SQLite file with the tiny connector installed: (base URL, admin
    token header, the file the tiny connector writes to)."""
    site = make_tiny_distribution(tmp_path / "site")
    database = f"sqlite:///{tmp_path / 'q.db'}"
    env = environment(site)
    token = subprocess.run(
        qunflow("token", "create", "--role", "admin", "--db", database),
        env=env,
        capture_output=True,
        text=True,
    )
    assert token.returncode == 0, token.stderr
    port = free_port()
    process = subprocess.Popen(
        qunflow("serve", "--db", database, "--port", str(port)),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: _up(base), "the server to listen")
        yield base, {"Authorization": f"Bearer {token.stdout.strip()}"}, tmp_path / "tiny.log"
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


def test_serve_records_until_configured_then_really_sends(
    serve: tuple[str, dict[str, str], Path], receiver: Receiver
) -> None:
    base, admin, tiny_log = serve
    api = httpx.Client(base_url=base, timeout=10, headers=admin)
    assert api.post("/api/flows", json=coupon_and_message_flow()).status_code == 200
    assert api.post("/api/flows/signup/publish").status_code == 200

    # Nothing configured: the deliveries are recorded, and no page calls them sent.
    api.post("/api/events", json=signup("e-1", "m-1"))

    def statuses(member: str) -> dict[str, str] | None:
        items = api.get("/api/deliveries", params={"member": member}).json()["items"]
        found = {d["kind"]: d["status"] for d in items}
        return found if len(found) == 2 and "pending" not in found.values() else None

    assert eventually(lambda: statuses("m-1"), "the deliveries to settle") == {
        "coupon": "recorded",
        "message": "recorded",
    }
    page = api.get("/members/m-1").text
    assert "未连接：投递只记录，不发送" in page and "已记录（未发送）" in page and "已发送" not in page
    assert receiver.requests == []

    # The tiny connector from another package is there; configure it and the webhook, and route.
    assert "tiny" in {c["name"] for c in api.get("/api/connectors").json()["connectors"]}
    webhook = {"secret": SECRET, "url": receiver.url, "allow": ["127.0.0.1/32"]}
    assert api.put("/api/connectors/webhook", json=webhook).status_code == 200
    tiny = {"path": str(tiny_log), "token": "serve-token"}
    assert api.put("/api/connectors/tiny", json=tiny).status_code == 200
    routed = api.put("/api/connectors/routes", json={"coupon": "webhook", "message": "tiny"})
    assert routed.status_code == 200, routed.text

    api.post("/api/events", json=signup("e-2", "m-2"))
    assert eventually(lambda: statuses("m-2"), "the deliveries to be sent") == {
        "coupon": "sent",
        "message": "sent",
    }
    [request] = receiver.requests
    assert request["body"]["kind"] == "coupon" and request["body"]["member"] == "m-2"
    assert request["headers"][KEY_HEADER] == request["body"]["key"]
    assert verify(SECRET.encode(), request["raw"], request["headers"][SIGNATURE_HEADER])
    [line] = tiny_log.read_text().splitlines()
    assert line.split()[1:] == ["message", "m-2", "serve-token"]
    assert "未连接" not in api.get("/members/m-2").text


def test_a_worker_sends_through_a_connector_installed_from_another_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    site = make_tiny_distribution(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    database = f"sqlite:///{tmp_path / 'w.db'}"
    tiny_log = tmp_path / "tiny.log"
    store = Store.open(database)
    try:
        settings = ConnectorSettings(store, Vault.for_database(database))
        assert "tiny" in settings.types
        context = ConnectorContext(store, RealClock())
        settings.configure("tiny", {"path": str(tiny_log), "token": "worker-token"}, context, 0)
        settings.configure(
            "webhook", {"secret": SECRET, "url": receiver.url, "allow": ["127.0.0.1"]}, context, 0
        )
        settings.set_routes({"message": "tiny", "coupon": "webhook"})
        engine = Engine(store)
        engine.save_draft(coupon_and_message_flow())
        engine.publish("signup")
        engine.ingest(
            [Event(id=f"e-{i}", type="signup", at=RealClock().now(), member=f"m-{i}") for i in range(3)]
        )
    finally:
        sys.modules.pop("tinyconn", None)

    process = subprocess.Popen(
        qunflow("worker", "--db", database, "--poll", "0.2"),
        env=environment(site),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def settled() -> dict[str, int] | None:
            found = store.delivery_statuses()
            return found if found.get("sent") == 6 else None

        assert eventually(settled, "the worker to send six deliveries") == {"sent": 6}
    finally:
        process.terminate()
        output: Any = process.communicate(timeout=30)[0]
        store.close()
    assert sorted(line.split()[2] for line in tiny_log.read_text().splitlines()) == ["m-0", "m-1", "m-2"]
    assert {line.split()[3] for line in tiny_log.read_text().splitlines()} == {"worker-token"}
    assert sorted(r["body"]["member"] for r in receiver.requests) == ["m-0", "m-1", "m-2"]
    assert all(verify(SECRET.encode(), r["raw"], r["headers"][SIGNATURE_HEADER]) for r in receiver.requests)
    assert "worker-token" not in output and SECRET not in output
    assert re.search(r"qunflow worker", output)
