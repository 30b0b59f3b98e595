"""Runs, retry, members with their timeline, deliveries, and the node registry."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest
from api_helpers import bearer, joined, welcome_flow

from qunflow.editor.services import Services
from qunflow.engine import NEXT, Context, Fail, Outcome, Registry, SimClock, action


class NeedsOk(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


@action("test.needs_ok", title={"zh": "需要 ok", "en": "Needs ok"})
def needs_ok(ctx: Context, config: NeedsOk) -> Outcome:
    return NEXT if ctx.member.attributes.get("ok") else Fail("member is not ok")


@pytest.fixture
def live(client, tokens, services: Services, clock: SimClock) -> dict[str, str]:
    """The welcome flow published, two members joined, a day passed: two coupons delivered."""
    auth = bearer(tokens["operator"])
    client.post("/api/flows", json=welcome_flow(), headers=auth)
    client.post("/api/flows/welcome/publish", headers=auth)
    client.post("/api/events", json=[joined("e-1", "m-1"), joined("e-2", "m-2")], headers=auth)
    clock.advance_to(clock.now() + timedelta(days=1, minutes=1))
    services.run_due()
    client.post(
        "/api/events",
        json={"id": "e-3", "type": "message", "member": "m-1", "at": "2026-11-23T11:00:00+08:00",
              "data": {"text": "谢谢"}},
        headers=auth,
    )  # fmt: skip
    return bearer(tokens["viewer"])


def test_runs_newest_first_filtered_and_paged(client, live) -> None:
    page = client.get("/api/runs", headers=live).json()
    assert [(r["member"], r["status"], r["node"]) for r in page["items"]] == [
        ("m-2", "done", "coupon"),
        ("m-1", "done", "coupon"),
    ]
    assert page["next_offset"] is None
    first = client.get("/api/runs?limit=1", headers=live).json()
    assert (len(first["items"]), first["next_offset"]) == (1, 1)
    second = client.get("/api/runs?limit=1&offset=1", headers=live).json()
    assert second["items"][0]["member"] == "m-1"
    assert client.get("/api/runs?member=m-2&status=done", headers=live).json()["items"][0]["member"] == "m-2"
    assert client.get("/api/runs?status=waiting", headers=live).json()["items"] == []
    assert client.get("/api/runs?flow=other", headers=live).json()["items"] == []


def test_bad_query_parameters_are_400_naming_them(client, live) -> None:
    for query, name in (("status=lost", "status"), ("limit=0", "limit"), ("limit=many", "limit"),
                        ("offset=-1", "offset"), ("flow=%00", "flow")):  # fmt: skip
        answer = client.get(f"/api/runs?{query}", headers=live)
        assert answer.status_code == 400, query
        assert name in answer.json()["message"], (query, answer.json())


def test_deliveries_with_status_and_filters(client, live) -> None:
    items = client.get("/api/deliveries", headers=live).json()["items"]
    assert sorted((d["member"], d["kind"], d["payload"]["coupon"], d["status"]) for d in items) == [
        ("m-1", "coupon", "welcome-10", "pending"),
        ("m-2", "coupon", "welcome-10", "pending"),
    ]
    assert "key" not in items[0]
    only = client.get("/api/deliveries?member=m-2&kind=coupon&flow=welcome", headers=live).json()["items"]
    assert [d["member"] for d in only] == ["m-2"]
    assert client.get("/api/deliveries?kind=message", headers=live).json()["items"] == []


def test_member_with_timeline_of_events_runs_and_deliveries(client, live) -> None:
    answer = client.get("/api/members/m-1", headers=live).json()
    assert answer["member"]["name"] == "小林"
    assert answer["member"]["tags"] == ["new"]
    assert answer["member"]["groups"] == ["g-1"]
    kinds = [(e["kind"], e["title"]) for e in answer["timeline"]]
    assert kinds == [
        ("event", "message"),
        ("delivery", "coupon"),
        ("run", "welcome → coupon"),
        ("event", "member_joined"),
    ]
    times = [e["at"] for e in answer["timeline"]]
    assert times == sorted(times, reverse=True)
    assert client.get("/api/members/nobody", headers=live).status_code == 404


def test_retry_of_a_run_that_did_not_fail_is_409_and_unknown_404(client, live, tokens) -> None:
    run_id = client.get("/api/runs", headers=live).json()["items"][0]["id"]
    answer = client.post(f"/api/runs/{run_id}/retry", headers=bearer(tokens["operator"]))
    assert answer.status_code == 409
    assert client.post("/api/runs/999999/retry", headers=bearer(tokens["operator"])).status_code == 404


def test_retry_steps_a_failed_run_again(client, tokens, services: Services, registry: Registry) -> None:
    registry.add(needs_ok)
    auth = bearer(tokens["operator"])
    flow = {
        "id": "strict",
        "nodes": [
            {"id": "joined", "type": "trigger.member_joined", "config": {}},
            {"id": "check", "type": "test.needs_ok", "config": {}},
            {"id": "tag", "type": "action.add_tag", "config": {"tags": ["checked"]}},
        ],
        "edges": [{"from": "joined", "to": "check"}, {"from": "check", "to": "tag"}],
    }
    assert client.post("/api/flows", json=flow, headers=auth).status_code == 200
    client.post("/api/flows/strict/publish", headers=auth)
    client.post("/api/events", json=joined("e-1", "m-1"), headers=auth)
    failed = client.get("/api/runs?status=failed", headers=auth).json()["items"]
    assert [(r["node"], r["error"] is not None) for r in failed] == [("check", True)]

    update = {"id": "e-2", "type": "member_updated", "member": "m-1", "at": "2026-11-22T10:05:00+08:00",
              "profile": {"attributes": {"ok": True}}}  # fmt: skip
    client.post("/api/events", json=update, headers=auth)
    answer = client.post(f"/api/runs/{failed[0]['id']}/retry", headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "done"
    assert client.get("/api/members/m-1", headers=auth).json()["member"]["tags"] == ["checked"]


def test_nodes_lists_the_registry_with_schemas(client, tokens) -> None:
    nodes = client.get("/api/nodes", headers=bearer(tokens["viewer"])).json()
    by_type = {n["type"]: n for n in nodes}
    assert by_type["wait.delay"]["kind"] == "wait"
    assert by_type["wait.delay"]["title"]["zh"]
    schema = by_type["wait.delay"]["schema"]
    assert any("duration" in d.get("properties", {}) for d in schema.get("$defs", {}).values())
    assert by_type["condition.has_tag"]["ports"] == ["true", "false"]


def test_openapi_documents_every_api_route(client) -> None:
    schema = client.get("/schema/openapi.json").json()
    for path in ("/api/nodes", "/api/flows", "/api/flows/{flow_id}", "/api/flows/{flow_id}/validate",
                 "/api/flows/{flow_id}/publish", "/api/flows/{flow_id}/pause", "/api/flows/{flow_id}/resume",
                 "/api/flows/{flow_id}/preview", "/api/flows/{flow_id}/stats", "/api/events", "/api/runs",
                 "/api/runs/{run_id}/retry", "/api/members/{member_id}", "/api/deliveries"):  # fmt: skip
        assert path in schema["paths"], path
    assert "requestBody" in schema["paths"]["/api/events"]["post"]
    assert schema["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
