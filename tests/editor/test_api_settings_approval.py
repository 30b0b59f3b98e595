"""Community settings (`/api/settings`) and approval before large sends (DESIGN §18)."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import bearer
from litestar import Litestar
from litestar.testing import TestClient

from qunflow.editor.services import Services
from qunflow.engine.approval import SameRequester, decide
from qunflow.engine.member import MemberRecord

Client = TestClient[Litestar]


WHO: dict[str, str] = {}  # how the history names each token's holder (`token:<id>`)


@pytest.fixture
def people(services: Services) -> dict[str, dict[str, str]]:
    """Bearer headers for an operator, two admins and a viewer, each with a token of their own."""
    headers = {}
    for name, role in (("ops", "operator"), ("boss", "admin"), ("chief", "admin"), ("look", "viewer")):
        info, token = services.accounts.create_token(role, services.now_us(), label=name)
        headers[name], WHO[name] = bearer(token), f"token:{info.id}"
    return headers


def test_anyone_signed_in_reads_the_settings_and_only_admins_change_them(
    client: Client, people: dict[str, dict[str, str]]
) -> None:
    assert client.get("/api/settings", headers=people["look"]).json() == {
        "touch_budget": None,
        "approval": None,
        "calendar": "cn",
    }
    budget = {"touch_budget": {"messages": 2, "per": "P1D"}}
    assert client.put("/api/settings", json=budget, headers=people["ops"]).status_code == 403
    answer = client.put("/api/settings", json=budget, headers=people["boss"])
    assert answer.status_code == 200, answer.text
    # A part of the object: the fields given replace the stored ones, the others are kept.
    answer = client.put("/api/settings", json={"approval": {"min_reach": 10}}, headers=people["boss"])
    assert answer.json() == {
        "touch_budget": {"messages": 2, "per": "P1D"},
        "approval": {"min_reach": 10},
        "calendar": "cn",
    }
    # null removes a field.
    answer = client.put(
        "/api/settings", json={"touch_budget": None, "calendar": "none"}, headers=people["boss"]
    )
    assert answer.json() == {"touch_budget": None, "approval": {"min_reach": 10}, "calendar": "none"}
    assert client.get("/api/settings", headers=people["ops"]).json() == answer.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"calendar": "hk"}, "calendar"),
        ({"touch_budget": {"messages": 0, "per": "P1D"}}, "touch_budget.messages"),
        ({"touch_budget": {"messages": 2, "per": "tomorrow"}}, "touch_budget.per"),
        ({"touch_budget": {"messages": 2}}, "touch_budget.per"),
        ({"approval": {"min_reach": 0}}, "approval.min_reach"),
        ({"approval": 5}, "approval"),
        ({"budget": {"messages": 1}}, "budget"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_field_and_nothing_is_stored(
    client: Client, people: dict[str, dict[str, str]], body: dict[str, Any], field: str
) -> None:
    client.put("/api/settings", json={"approval": {"min_reach": 7}}, headers=people["boss"])
    answer = client.put("/api/settings", json=body, headers=people["boss"])
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field, answer.json()
    assert field in answer.json()["message"]
    assert client.get("/api/settings", headers=people["boss"]).json()["approval"] == {"min_reach": 7}


def test_a_flow_priority_out_of_range_is_a_problem_naming_the_field(
    client: Client, people: dict[str, dict[str, str]]
) -> None:
    document = broadcast_flow()
    document["settings"] = {"priority": 11}
    answer = client.post("/api/flows", json=document, headers=people["ops"])
    assert answer.status_code == 422
    assert any("priority" in p["path"] for p in answer.json()["problems"]), answer.json()
    document["settings"] = {"over_budget": "drop"}
    answer = client.post("/api/flows", json=document, headers=people["ops"])
    assert any("over_budget" in p["path"] for p in answer.json()["problems"]), answer.json()


def broadcast_flow(flow_id: str = "promo") -> dict[str, Any]:
    """A daily 10:00 message to every VIP member."""
    return {
        "id": flow_id,
        "name": "大促",
        "nodes": [
            {"id": "daily", "type": "trigger.schedule",
             "config": {"cron": "0 10 * * *", "audience": {"tags_any": ["vip"]}}},
            {"id": "hi", "type": "action.send_message", "config": {"text": "大促来了"}},
        ],
        "edges": [{"from": "daily", "to": "hi"}],
    }  # fmt: skip


def add_members(services: Services, count: int, tags: list[str]) -> None:
    now = services.now_us()
    services.store.put_members([MemberRecord(id=f"m-{i}", tags=tags).to_member(now) for i in range(count)])


def test_a_large_send_waits_for_another_admin_and_the_history_says_who_asked_and_decided(
    client: Client, services: Services, people: dict[str, dict[str, str]]
) -> None:
    add_members(services, 3, ["vip"])
    client.put("/api/settings", json={"approval": {"min_reach": 3}}, headers=people["boss"])
    assert client.post("/api/flows", json=broadcast_flow(), headers=people["ops"]).status_code == 200

    answer = client.post("/api/flows/promo/publish", headers=people["ops"])
    assert answer.status_code == 202, answer.text
    assert answer.json() == {
        "flow": "promo",
        "version": 1,
        "status": "pending_approval",
        "reach": 3,
        "min_reach": 3,
    }
    detail = client.get("/api/flows/promo", headers=people["ops"]).json()
    assert detail["live_version"] is None
    assert [f["pending_approval"] for f in client.get("/api/flows", headers=people["look"]).json()] == [1]
    # The one who asked cannot approve (an operator may not at all; nor may the requester as admin).
    assert client.post("/api/flows/promo/approve", headers=people["ops"]).status_code == 403
    with pytest.raises(SameRequester):
        decide(services.engine, "promo", WHO["ops"], True)

    answer = client.post("/api/flows/promo/approve", headers=people["boss"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "approved"
    detail = client.get("/api/flows/promo", headers=people["ops"]).json()
    assert detail["live_version"] == 1
    version = detail["versions"][0]
    assert (version["status"], version["requested_by"], version["decided_by"], version["reach"]) == (
        "approved",
        WHO["ops"],
        WHO["boss"],
        3,
    )
    assert version["published_at"] and version["decided_at"]
    assert [f["pending_approval"] for f in client.get("/api/flows", headers=people["look"]).json()] == [None]
    assert services.engine.flows.live_plan("promo") is not None
    assert client.post("/api/flows/promo/approve", headers=people["chief"]).status_code == 409


def test_a_rejected_send_never_goes_live_and_keeps_the_reason(
    client: Client, services: Services, people: dict[str, dict[str, str]]
) -> None:
    add_members(services, 5, ["vip"])
    client.put("/api/settings", json={"approval": {"min_reach": 2}}, headers=people["boss"])
    client.post("/api/flows", json=broadcast_flow(), headers=people["ops"])
    assert client.post("/api/flows/promo/publish", headers=people["ops"]).status_code == 202
    assert client.post("/api/flows/promo/reject", json={}, headers=people["chief"]).status_code in (400, 422)
    answer = client.post("/api/flows/promo/reject", json={"reason": "文案要改"}, headers=people["chief"])
    assert answer.status_code == 200, answer.text
    detail = client.get("/api/flows/promo", headers=people["ops"]).json()
    assert detail["live_version"] is None
    version = detail["versions"][0]
    assert (version["status"], version["decided_by"], version["reason"]) == (
        "rejected",
        WHO["chief"],
        "文案要改",
    )
    assert client.post("/api/flows/promo/approve", headers=people["boss"]).status_code == 409


def test_small_sends_and_admins_publish_at_once(
    client: Client, services: Services, people: dict[str, dict[str, str]]
) -> None:
    add_members(services, 2, ["vip"])
    client.put("/api/settings", json={"approval": {"min_reach": 3}}, headers=people["boss"])
    client.post("/api/flows", json=broadcast_flow(), headers=people["ops"])
    answer = client.post("/api/flows/promo/publish", headers=people["ops"])
    assert answer.status_code == 200
    assert answer.json() == {"flow": "promo", "version": 1, "reach": 2, "min_reach": 3}
    add_members(services, 4, ["vip"])
    client.post("/api/flows", json=broadcast_flow("big"), headers=people["boss"])
    answer = client.post("/api/flows/big/publish", headers=people["boss"])
    assert (answer.status_code, answer.json()) == (200, {"flow": "big", "version": 1})
    history = client.get("/api/flows/big", headers=people["ops"]).json()["versions"]
    assert (history[0]["status"], history[0]["requested_by"]) == ("published", WHO["boss"])
