"""`POST /api/deliveries/{id}/retry` and `/cancel`: operators only, 404 and 409 saying why."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_helpers import bearer, joined, welcome_flow

from qunflow.editor.services import Services
from qunflow.engine import SimClock
from qunflow.engine.connectors import DeliveryFailed
from qunflow.engine.outbox import Dispatcher


class Refusing:
    name = "refusing"

    def send(self, delivery) -> None:
        raise DeliveryFailed("coupon service said 400", retryable=False)


@pytest.fixture
def coupons(client, tokens, services: Services, clock: SimClock) -> list[int]:
    """Two members' coupons pending (nothing dispatched yet); their ids, oldest first."""
    auth = bearer(tokens["operator"])
    client.post("/api/flows", json=welcome_flow(), headers=auth)
    client.post("/api/flows/welcome/publish", headers=auth)
    client.post("/api/events", json=[joined("e-1", "m-1"), joined("e-2", "m-2")], headers=auth)
    clock.advance_to(clock.now() + timedelta(days=1, minutes=1))
    services.run_due()
    return sorted(d["id"] for d in services.store.deliveries(flow_id="welcome"))


def test_an_operator_cancels_a_pending_delivery(client, tokens, services: Services, coupons) -> None:
    first, second = coupons
    operator = bearer(tokens["operator"])
    answer = client.post(f"/api/deliveries/{first}/cancel", headers=operator)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["id"], answer.json()["status"]) == (first, "cancelled")
    assert client.get("/api/deliveries?status=cancelled", headers=operator).json()["items"][0]["id"] == first
    again = client.post(f"/api/deliveries/{first}/cancel", headers=operator)
    assert again.status_code == 409 and "is cancelled" in again.json()["message"]
    missing = client.post("/api/deliveries/999999/cancel", headers=operator)
    assert missing.status_code == 404 and "999999" in missing.json()["message"]
    # A viewer may look but not touch; an ingest token neither.
    for role in ("viewer", "ingest"):
        answer = client.post(f"/api/deliveries/{second}/cancel", headers=bearer(tokens[role]))
        assert answer.status_code == 403, role
    assert services.store.delivery_page(limit=1, id=second)[0]["status"] == "pending"


def test_an_operator_retries_a_failed_delivery(client, tokens, services: Services, clock, coupons) -> None:
    first, _ = coupons
    operator = bearer(tokens["operator"])
    refused = client.post(f"/api/deliveries/{first}/retry", headers=operator)
    assert refused.status_code == 409 and "is pending: only a failed delivery" in refused.json()["message"]
    Dispatcher(services.store, Refusing(), clock=clock).drain()
    assert client.post(f"/api/deliveries/{first}/retry", headers=bearer(tokens["viewer"])).status_code == 403
    answer = client.post(f"/api/deliveries/{first}/retry", headers=operator)
    assert answer.status_code == 200 and answer.json()["status"] == "pending"
    assert Dispatcher(services.store, clock=clock).drain().recorded == 1
    statuses = {d["id"]: d["status"] for d in client.get("/api/deliveries", headers=operator).json()["items"]}
    assert statuses == {first: "recorded", coupons[1]: "failed"}
    assert client.post("/api/deliveries/0/retry", headers=operator).status_code == 400


def test_openapi_documents_retry_and_cancel(client) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    for action in ("retry", "cancel"):
        route = paths[f"/api/deliveries/{{delivery_id}}/{action}"]["post"]
        assert "409" in route["description"] or "409" in route.get("summary", "")
