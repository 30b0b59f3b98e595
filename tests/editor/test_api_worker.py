"""The in-process worker steps due runs on the app's clock, and keeps going when a round fails."""

from __future__ import annotations

import time
from datetime import timedelta

from api_helpers import bearer, joined, welcome_flow
from litestar.testing import TestClient

from qunflow.editor.app import create_app
from qunflow.editor.services import Services
from qunflow.engine import SimClock


def eventually(check, what: str, deadline: float = 30.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if result := check():
            return result
        time.sleep(0.02)
    raise AssertionError(f"gave up waiting for {what}")


def test_the_worker_steps_runs_when_they_are_due(services: Services, clock: SimClock, tokens) -> None:
    app = create_app(services)
    auth = bearer(tokens["operator"])
    with TestClient(app) as client:
        client.post("/api/flows", json=welcome_flow(), headers=auth)
        client.post("/api/flows/welcome/publish", headers=auth)
        client.post("/api/events", json=joined("e-1", "m-1"), headers=auth)
        assert client.get("/api/runs", headers=auth).json()["items"][0]["status"] == "waiting"

        clock.advance_to(clock.now() + timedelta(days=1, seconds=1))
        app.state.worker.poke()
        eventually(lambda: client.get("/api/deliveries", headers=auth).json()["items"], "the coupon")
        assert client.get("/api/runs", headers=auth).json()["items"][0]["status"] == "done"


def test_a_failing_round_does_not_stop_the_worker(
    services: Services, clock: SimClock, tokens, monkeypatch
) -> None:
    real = services.engine.step_leased
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug in one round")
        return real(*args, **kwargs)

    monkeypatch.setattr(services.engine, "step_leased", flaky)
    app = create_app(services)
    auth = bearer(tokens["operator"])
    with TestClient(app) as client:
        client.post("/api/flows", json=welcome_flow(), headers=auth)
        client.post("/api/flows/welcome/publish", headers=auth)
        client.post("/api/events", json=joined("e-1", "m-1"), headers=auth)
        clock.advance_to(clock.now() + timedelta(days=2))
        app.state.worker.poke()
        eventually(
            lambda: client.get("/api/deliveries", headers=auth).json()["items"], "the coupon after a failure"
        )
    assert len(calls) >= 2


def test_the_worker_dispatches_the_outbox(services: Services, clock: SimClock, tokens) -> None:
    app = create_app(services)
    auth = bearer(tokens["operator"])
    with TestClient(app) as client:
        client.post("/api/flows", json=welcome_flow(), headers=auth)
        client.post("/api/flows/welcome/publish", headers=auth)
        client.post("/api/events", json=joined("e-1", "m-1"), headers=auth)
        clock.advance_to(clock.now() + timedelta(days=1, seconds=1))
        app.state.worker.poke()

        def recorded():
            items = client.get("/api/deliveries", headers=auth).json()["items"]
            return items and items[0]["status"] == "recorded" and items

        # With no connector routed, the recording connector keeps it: recorded, never called sent.
        delivered = eventually(recorded, "the recording connector to record the coupon")
        assert [(d["kind"], d["attempts"]) for d in delivered] == [("coupon", 1)]
