"""`/api/content` (DESIGN §15): the content library through the API, and its use by flows: validation
and publishing refuse an unknown item naming node and field, and an item a published flow sends
cannot be removed (409 naming the flows)."""

from __future__ import annotations

import pytest
from api_helpers import bearer

SCRIPT = {"id": "welcome-script", "title": "欢迎话术", "kind": "text", "text": "{{ member.name }}，欢迎！"}
POSTER = {
    "id": "poster",
    "title": "双11 海报",
    "kind": "image",
    "media": {"url": "https://cdn.example.com/p.png", "name": "p.png"},
}
NO_PARTS = {"text": None, "media": None, "link": None, "miniprogram": None}


def sending(content: str, flow_id: str = "send") -> dict:
    return {
        "id": flow_id,
        "nodes": [
            {"id": "joined", "type": "trigger.member_joined", "config": {}},
            {"id": "hello", "type": "action.send_message", "config": {"content": content}},
        ],
        "edges": [{"from": "joined", "to": "hello"}],
    }


@pytest.fixture
def operator(tokens) -> dict[str, str]:
    return bearer(tokens["operator"])


def test_items_are_stored_read_searched_replaced_and_removed(client, operator, tokens) -> None:
    answer = client.post("/api/content", json=[SCRIPT, POSTER], headers=operator)
    assert answer.status_code == 200, answer.text
    assert answer.json()[0] == {**NO_PARTS, **SCRIPT}
    viewer = bearer(tokens["viewer"])
    assert client.get("/api/content/poster", headers=viewer).json() == {**NO_PARTS, **POSTER}
    assert [i["id"] for i in client.get("/api/content", headers=viewer).json()["items"]] == [
        "poster",
        "welcome-script",
    ]
    assert [i["id"] for i in client.get("/api/content?q=欢迎", headers=viewer).json()["items"]] == [
        "welcome-script"
    ]
    assert [i["id"] for i in client.get("/api/content?kind=image", headers=viewer).json()["items"]] == [
        "poster"
    ]
    changed = client.put("/api/content/poster", json={**POSTER, "title": "新海报"}, headers=operator)
    assert changed.status_code == 200 and changed.json()["title"] == "新海报"
    mismatch = client.put("/api/content/poster", json={**SCRIPT}, headers=operator)
    assert mismatch.status_code == 422 and mismatch.json()["message"].startswith("id:")
    assert client.delete("/api/content/poster", headers=operator).status_code == 204
    assert client.get("/api/content/poster", headers=operator).status_code == 404
    assert client.delete("/api/content/poster", headers=operator).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "x", "title": "t", "text": "{{ member.nickname }}"}, "member.nickname"),
        ({"id": "x", "title": "t", "kind": "video"}, "media"),
        ({"id": "x", "title": "t", "kind": "image", "media": {"url": "javascript:alert(1)"}}, "media.url"),
        ({"id": "x", "title": "t", "kind": "miniprogram", "miniprogram": {"appid": "wx1", "title": "t"}},
         "miniprogram"),
        ({"id": "x", "text": "no title"}, "title"),
        ([SCRIPT, {"id": "y", "title": "t", "kind": "poster"}], "content[1].kind"),
    ],
)  # fmt: skip
def test_a_bad_item_is_refused_naming_the_field_and_nothing_is_stored(client, operator, body, field) -> None:
    answer = client.post("/api/content", json=body, headers=operator)
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["message"]
    assert client.get("/api/content", headers=operator).json()["items"] == []


def test_flows_may_only_send_items_the_library_holds(client, operator) -> None:
    assert client.post("/api/flows", json=sending("does-not-exist-123"), headers=operator).status_code == 200
    checked = client.post("/api/flows/send/validate", headers=operator).json()
    assert checked["valid"] is False
    assert [(p["node"], p["path"]) for p in checked["problems"]] == [("hello", "config.content")]
    refused = client.post("/api/flows/send/publish", headers=operator)
    assert refused.status_code == 422 and "hello: config.content" in refused.json()["message"]

    client.post("/api/content", json=SCRIPT, headers=operator)
    client.post("/api/flows", json=sending("welcome-script"), headers=operator)
    assert client.post("/api/flows/send/validate", headers=operator).json()["valid"] is True
    assert client.post("/api/flows/send/publish", headers=operator).status_code == 200
    client.post("/api/flows", json=sending("welcome-script", "other"), headers=operator)  # a draft only

    answer = client.delete("/api/content/welcome-script", headers=operator)
    assert answer.status_code == 409 and "send" in answer.json()["message"]
    assert "other" not in answer.json()["message"]
    client.post("/api/flows/send/pause", headers=operator)  # paused runs may still reach the node
    assert client.delete("/api/content/welcome-script", headers=operator).status_code == 409
    assert client.get("/api/content/welcome-script", headers=operator).status_code == 200


def test_the_delivery_carries_the_item(client, operator, tokens, services) -> None:
    client.post("/api/content", json=SCRIPT, headers=operator)
    client.post("/api/flows", json=sending("welcome-script"), headers=operator)
    client.post("/api/flows/send/publish", headers=operator)
    event = {"id": "e-1", "type": "member_joined", "member": "m-1", "group": "g-1",
             "at": "2026-11-22T10:00:00+08:00", "profile": {"name": "小林"}}  # fmt: skip
    assert client.post("/api/events", json=event, headers=bearer(tokens["ingest"])).status_code == 202
    services.run_due()
    [delivery] = client.get("/api/deliveries?flow=send", headers=operator).json()["items"]
    assert delivery["payload"] == {"text": "小林，欢迎！", "to": "member", "content": SCRIPT}


def test_a_preview_uses_the_stored_library(client, operator) -> None:
    client.post("/api/content", json=SCRIPT, headers=operator)
    client.post("/api/flows", json=sending("welcome-script"), headers=operator)
    event = {"id": "e-1", "type": "member_joined", "member": "m-1", "group": "g-1",
             "at": "2026-11-22T10:00:00+08:00", "profile": {"name": "小林"}}  # fmt: skip
    report = client.post("/api/flows/send/preview", json={"events": [event]}, headers=operator).json()
    assert report["deliveries"][0]["payload"]["content"]["id"] == "welcome-script"
