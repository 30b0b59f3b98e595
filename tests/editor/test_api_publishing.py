"""What publishing would do (issue #15): `GET /api/flows/{id}/changes` — the draft against the live
version, in words — and `GET /api/flows/{id}/reach` — the members its audiences hold now."""

from __future__ import annotations

from typing import Any

from api_helpers import bearer, joined, welcome_flow
from litestar import Litestar
from litestar.testing import TestClient

from qunflow.editor.services import Services
from qunflow.engine.member import MemberRecord

Client = TestClient[Litestar]


def promo(flow_id: str = "promo", tags: list[str] | None = None) -> dict[str, Any]:
    """Every day at 10:00, the members tagged vip (or `tags`) get a message."""
    return {
        "id": flow_id,
        "name": "大促",
        "nodes": [
            {"id": "daily", "type": "trigger.schedule",
             "config": {"cron": "0 10 * * *", "audience": {"tags_any": tags or ["vip"]}}},
            {"id": "hi", "type": "action.send_message", "config": {"text": "大促来了"}},
        ],
        "edges": [{"from": "daily", "to": "hi"}],
    }  # fmt: skip


def add_members(services: Services, ids: list[str], tags: list[str]) -> None:
    now = services.now_us()
    services.store.put_members([MemberRecord(id=i, tags=tags).to_member(now) for i in ids])


def test_a_first_publish_has_no_changes_to_list(client: Client, tokens: dict[str, str]) -> None:
    auth = bearer(tokens["operator"])
    assert client.post("/api/flows", json=welcome_flow(), headers=auth).status_code == 200
    answer = client.get("/api/flows/welcome/changes", headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"flow": "welcome", "live_version": None, "first": True, "changes": []}


def test_the_changes_since_the_live_version_are_said_in_words(client: Client, tokens: dict[str, str]) -> None:
    auth = bearer(tokens["operator"])
    client.post("/api/flows", json=welcome_flow(), headers=auth)
    assert client.post("/api/flows/welcome/publish", headers=auth).status_code == 200
    changed = welcome_flow()
    changed["nodes"][2] = {
        "id": "wait",
        "type": "wait.delay",
        "config": {"duration": "P2D"},
        "label": "等一等",
    }
    changed["nodes"].append({"id": "bye", "type": "action.add_tag", "config": {"tags": ["done"]}})
    changed["edges"].append({"from": "coupon", "to": "bye"})
    assert client.put("/api/flows/welcome/draft", json=changed, headers=auth).status_code == 200

    answer = client.get("/api/flows/welcome/changes?lang=zh", headers=auth).json()
    assert (answer["live_version"], answer["first"]) == (1, False)
    said = {(c["what"], c["subject"], c["field"], c["before"], c["after"]) for c in answer["changes"]}
    assert ("修改配置", "等一等", "时长", "1 天", "2 天") in said
    assert ("修改名称", "等一等", "", "", "等一等") in said, said
    assert any(c["subject"] == "发优惠券 → 打标签" for c in answer["changes"]), answer["changes"]
    # Never an id where a name is known, never JSON.
    text = " ".join(value for change in answer["changes"] for value in change.values())
    assert "P2D" not in text and "{" not in text

    english = client.get("/api/flows/welcome/changes?lang=en", headers=auth).json()
    assert any(
        c["field"] == "Duration" and (c["before"], c["after"]) == ("1 day", "2 days")
        for c in english["changes"]
    ), english["changes"]

    # Published, the draft is the live version: nothing left to list.
    assert client.post("/api/flows/welcome/publish", headers=auth).status_code == 200
    answer = client.get("/api/flows/welcome/changes", headers=auth).json()
    assert (answer["live_version"], answer["first"], answer["changes"]) == (2, False, [])


def test_the_language_follows_the_page_when_not_asked(client: Client, sign_in: Any) -> None:
    csrf = {"X-CSRF-Token": sign_in("operator")}
    client.post("/api/flows", json=welcome_flow(), headers=csrf)
    client.post("/api/flows/welcome/publish", headers=csrf)
    changed = welcome_flow()
    changed["nodes"][2]["config"] = {"duration": "PT12H"}
    client.put("/api/flows/welcome/draft", json=changed, headers=csrf)
    client.cookies.set("qunflow_lang", "en")
    answer = client.get("/api/flows/welcome/changes").json()
    assert [(c["field"], c["before"], c["after"]) for c in answer["changes"]] == [
        ("Duration", "1 day", "12 hours")
    ]


def test_the_reach_of_an_audience_is_the_members_in_it_now(
    client: Client, tokens: dict[str, str], services: Services
) -> None:
    auth = bearer(tokens["operator"])
    add_members(services, ["m-1", "m-2", "m-3"], ["vip"])
    add_members(services, ["m-4"], ["new"])
    client.post("/api/flows", json=promo(), headers=auth)
    answer = client.get("/api/flows/promo/reach", headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "flow": "promo",
        "audience": True,
        "members": 3,
        "event_triggers": False,
        "group_level": False,
        "min_reach": None,
    }
    # The draft is what is counted, as it is now.
    client.put("/api/flows/promo/draft", json=promo(tags=["vip", "new"]), headers=auth)
    assert client.get("/api/flows/promo/reach", headers=auth).json()["members"] == 4


def test_the_approval_threshold_is_said_to_those_whose_publishing_it_holds(
    client: Client, tokens: dict[str, str], services: Services
) -> None:
    add_members(services, ["m-1", "m-2"], ["vip"])
    admin, operator = bearer(tokens["admin"]), bearer(tokens["operator"])
    assert client.put("/api/settings", json={"approval": {"min_reach": 2}}, headers=admin).status_code == 200
    client.post("/api/flows", json=promo(), headers=operator)
    answer = client.get("/api/flows/promo/reach", headers=operator).json()
    assert (answer["members"], answer["min_reach"]) == (2, 2)
    # An admin's publishing goes live at once: no threshold to tell.
    assert client.get("/api/flows/promo/reach", headers=admin).json()["min_reach"] is None
    # As the dialog says: the operator's publishing of it waits for an admin.
    assert client.post("/api/flows/promo/publish", headers=operator).status_code == 202


def test_an_event_triggered_flow_has_no_count_for_now(client: Client, tokens: dict[str, str]) -> None:
    auth = bearer(tokens["operator"])
    client.post("/api/events", json=[joined("e-1", "m-1")], headers=auth)
    client.post("/api/flows", json=welcome_flow(), headers=auth)
    assert client.get("/api/flows/welcome/reach", headers=auth).json() == {
        "flow": "welcome",
        "audience": False,
        "members": None,
        "event_triggers": True,
        "group_level": False,
        "min_reach": None,
    }
    group_post = {
        "id": "post",
        "name": "早安",
        "nodes": [
            {"id": "daily", "type": "trigger.schedule", "config": {"cron": "0 8 * * *"}},
            {
                "id": "hi",
                "type": "action.send_message",
                "config": {"text": "早安", "to": "group", "group": "g-1"},
            },
        ],
        "edges": [{"from": "daily", "to": "hi"}],
    }
    client.post("/api/flows", json=group_post, headers=auth)
    answer = client.get("/api/flows/post/reach", headers=auth).json()
    assert (answer["audience"], answer["members"], answer["group_level"]) == (False, None, True)


def test_bad_requests_are_refused_naming_what_is_wrong(client: Client, tokens: dict[str, str]) -> None:
    auth = bearer(tokens["operator"])
    assert client.get("/api/flows/nothing/changes", headers=auth).status_code == 404
    assert client.get("/api/flows/nothing/reach", headers=auth).status_code == 404
    client.post("/api/flows", json=welcome_flow(), headers=auth)
    answer = client.get("/api/flows/welcome/changes?lang=fr", headers=auth)
    assert answer.status_code == 400 and "lang" in answer.text
    # An unfinished draft (saved with problems) has no reach yet: its problems say why.
    broken = welcome_flow()
    broken["nodes"][2]["config"] = {"duration": "soon"}
    client.put("/api/flows/welcome/draft", json=broken, headers=auth)
    answer = client.get("/api/flows/welcome/reach", headers=auth)
    assert answer.status_code == 422
    assert answer.json()["problems"][0]["node"] == "wait"
    # Reading needs a session or a token; a viewer may read.
    assert client.get("/api/flows/welcome/changes").status_code == 401
    assert client.get("/api/flows/welcome/changes", headers=bearer(tokens["viewer"])).status_code == 200
