"""`qunflow serve --demo` shows the WeCom loop without a corp: a fake WeCom on loopback plays a customer
adding staff (an encrypted callback), the welcome is sent at once, the mass send waits for the
simulated staff tap and is then sent; every page says the WeCom is simulated; SIGTERM stops it all."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from test_serve_smoke import eventually, free_port

from qunflow.editor.app import create_app
from qunflow.editor.demo import load_demo
from qunflow.editor.demo_wecom import FLOW_ID, DemoWecom
from qunflow.editor.services import Services
from qunflow.engine import RealClock, Store


def statuses(services: Services, member: str) -> dict[tuple[str, str], str]:
    found = services.store.deliveries(member_id=member)
    return {(d["flow"], d["kind"]): d["status"] for d in found}


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Services, DemoWecom]]:
    """The demo on a real clock and a real server on loopback, its simulated customers held back."""
    services = Services(Store.open(f"sqlite:///{tmp_path / 'demo.db'}"), clock=RealClock())
    summary = load_demo(services)
    port = free_port()
    # As `serve --demo` does: the simulated WeCom first, then the server with its worker.
    wecom = DemoWecom(services, f"http://127.0.0.1:{port}/wecom/callback", max_adds=0)
    wecom.start(fresh=summary is not None)
    app = create_app(services)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.02)  # waiting for the socket, not measuring anything
    try:
        yield services, wecom
    finally:
        wecom.stop()
        server.should_exit = True
        thread.join(timeout=10)
        services.close()


def test_a_simulated_add_is_welcomed_and_its_message_waits_for_the_tap(
    demo: tuple[Services, DemoWecom],
) -> None:
    services, wecom = demo
    # The history played under the simulated clock was recorded, not sent to the fake.
    assert "sent" not in {d["status"] for d in services.store.deliveries()}

    customer = wecom.add_customer()

    def waiting() -> dict[tuple[str, str], str] | None:
        found = statuses(services, customer)
        ours = {k: v for k, v in found.items() if k[0] == FLOW_ID}
        settled = ours.get((FLOW_ID, "welcome")) == "sent" and (FLOW_ID, "message") in ours
        return found if settled and "pending" not in found.values() else None

    found = eventually(waiting, "the welcome to be sent")
    assert found[(FLOW_ID, "message")] == "awaiting_confirmation"
    (welcome,) = [c.body for c in wecom.fake.calls_to("externalcontact/send_welcome_msg")]
    assert welcome["welcome_code"].startswith("WELCOME-")
    assert services.store.get_member(customer).staff in ("staff-wang", "staff-li")
    assert wecom.fake.tasks and all(t.sent_at is None for t in wecom.fake.tasks.values())

    assert wecom.confirm_due(after=0)  # the simulated staff member taps 发送

    def sent() -> bool:
        return statuses(services, customer)[(FLOW_ID, "message")] == "sent"

    eventually(sent, "the tap to make the message sent")  # seen by the connector's next poll


def _environment() -> dict[str, Any]:
    return {**os.environ, "QUNFLOW_ADMIN_PASSWORD": "demo-password-1"}


def test_serve_demo_says_its_wecom_is_simulated_sends_a_welcome_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    database = f"sqlite:///{tmp_path / 'q.db'}"
    command = [sys.executable, "-m", "qunflow.editor.cli"]
    token = subprocess.run(
        [*command, "token", "create", "--role", "admin", "--db", database],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert token.returncode == 0, token.stderr
    port = free_port()
    process = subprocess.Popen(
        [*command, "serve", "--demo", "--db", database, "--port", str(port)],
        cwd=tmp_path,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    api = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {token.stdout.strip()}"},
        timeout=10,
    )
    try:

        def welcomed() -> list[dict[str, Any]] | None:
            try:
                items = api.get("/api/deliveries", params={"kind": "welcome"}).json()["items"]
            except httpx.TransportError:
                return None
            return [d for d in items if d["status"] == "sent"] or None

        (first, *_) = eventually(welcomed, "the first simulated customer to be welcomed")
        assert first["flow"] == FLOW_ID
        page = api.get("/deliveries").text
        assert "演示：连接的是本机模拟的企业微信" in page
        assert "未连接：投递只记录，不发送" not in page  # WeCom (simulated) is routed
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(timeout=10)  # DESIGN §21: serve stops within 10 s
        except subprocess.TimeoutExpired:
            process.kill()
            status = None
        output = process.stdout.read().decode(errors="replace") if process.stdout else ""
    assert status == 0, output
    assert "本机模拟的企业微信" in output
