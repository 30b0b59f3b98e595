"""`/api/tasks` (issue #15): the staff inbox, and done / skip, which resume the waiting run."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import bearer

from qunflow.editor.services import Services

T = "2026-11-22T10:00:00+08:00"


def follow_up() -> dict[str, Any]:
    """A silent member gets a call from s-7 (waiting for the outcome), a removal by the group's owner,
    and a friend request from s-8."""
    nodes = [
        {"id": "t", "type": "trigger.event", "config": {"event": "silent"}},
        {"id": "call", "type": "action.assign_task", "label": "回访电话",
         "config": {"title": "给 {{ member.name }} 打回访电话", "staff": "s-7", "wait": True}},
        {"id": "done", "type": "action.add_tag", "config": {"tags": ["called"]}},
        {"id": "skipped", "type": "action.add_tag", "config": {"tags": ["not-called"]}},
        {"id": "t2", "type": "trigger.event", "config": {"event": "spam"}},
        {"id": "kick", "type": "action.remove_from_group", "config": {"group": "g-1"}},
        {"id": "friend", "type": "action.add_friend", "config": {"staff": ["s-8"]}},
    ]  # fmt: skip
    edges = [
        {"from": "t", "to": "call"},
        {"from": "call", "port": "done", "to": "done"},
        {"from": "call", "port": "skipped", "to": "skipped"},
        {"from": "t2", "to": "kick"},
        {"from": "kick", "to": "friend"},
    ]
    return {"id": "care", "name": "关怀", "nodes": nodes, "edges": edges}


@pytest.fixture
def tasks(client, tokens, services: Services) -> dict[str, int]:
    auth = bearer(tokens["operator"])
    assert client.post("/api/staff", json=[{"id": "s-7", "name": "王小明"}, {"id": "s-8", "name": "李雷"}],
                       headers=auth).status_code in (200, 201)  # fmt: skip
    assert client.post("/api/groups", json={"id": "g-1", "name": "粉丝群", "owner": "s-9"},
                       headers=auth).status_code in (200, 201)  # fmt: skip
    assert client.post("/api/flows", json=follow_up(), headers=auth).status_code in (200, 201)
    assert client.post("/api/flows/care/publish", headers=auth).status_code in (200, 201)
    events = [
        {"id": "e-1", "type": "silent", "member": "m-1", "at": T, "profile": {"name": "小林"}},
        {"id": "e-2", "type": "silent", "member": "m-2", "at": T, "profile": {"name": "小周"}},
        {"id": "e-3", "type": "spam", "member": "m-3", "at": T, "profile": {"name": "小吴"}},
    ]
    assert client.post("/api/events", json=events, headers=auth).status_code == 202
    found = {(d["member"], d["kind"]): d["id"] for d in services.store.deliveries(flow_id="care")}
    return {"m-1": found[("m-1", "task")], "m-2": found[("m-2", "task")], "remove": found[("m-3", "remove")],
            "friend": found[("m-3", "friend_request")]}  # fmt: skip


def test_the_inbox_lists_open_tasks_per_staff_member_with_names(client, tokens, tasks) -> None:
    viewer = bearer(tokens["viewer"])
    page = client.get("/api/tasks?staff=s-7", headers=viewer)
    assert page.status_code == 200, page.text
    items = page.json()["items"]
    assert [t["id"] for t in items] == [tasks["m-1"], tasks["m-2"]]
    first = items[0]
    assert first["payload"]["title"] == "给 小林 打回访电话"
    assert (first["member"], first["member_name"], first["flow_name"], first["node_label"]) == (
        "m-1", "小林", "关怀", "回访电话"
    )  # fmt: skip
    assert (first["status"], first["staff"]) == ("open", "s-7")
    # A removal is the group owner's task; a friend request the sending account's.
    assert [t["id"] for t in client.get("/api/tasks?staff=s-9", headers=viewer).json()["items"]] == [
        tasks["remove"]
    ]
    assert [t["kind"] for t in client.get("/api/tasks?staff=s-8", headers=viewer).json()["items"]] == [
        "friend_request"
    ]
    assert len(client.get("/api/tasks", headers=viewer).json()["items"]) == 4
    assert client.get(f"/api/tasks/{tasks['remove']}", headers=viewer).json()["payload"]["group"] == "g-1"


def test_done_and_skip_close_the_task_and_resume_the_run(client, tokens, services: Services, tasks) -> None:
    operator = bearer(tokens["operator"])
    answer = client.post(f"/api/tasks/{tasks['m-1']}/done", headers=operator)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "done" and answer.json()["closed_at"]
    assert services.store.get_member("m-1").tags == ["called"]
    answer = client.post(f"/api/tasks/{tasks['m-2']}/skip", headers=operator)
    assert answer.json()["status"] == "skipped"
    assert services.store.get_member("m-2").tags == ["not-called"]

    assert client.get("/api/tasks?staff=s-7", headers=operator).json()["items"] == []
    done = client.get("/api/tasks?staff=s-7&status=done", headers=operator).json()["items"]
    assert [t["id"] for t in done] == [tasks["m-1"]]
    # The completion is an event in the member's timeline, saying who did it.
    [completed] = [e for e in services.store.member_events("m-1") if e["type"] == "task_completed"]
    assert completed["data"]["outcome"] == "done" and completed["data"]["by"].startswith("token:")

    again = client.post(f"/api/tasks/{tasks['m-1']}/skip", headers=operator)
    assert again.status_code == 409 and "already" in again.json()["message"]
    assert services.store.get_member("m-1").tags == ["called"]


def test_a_task_event_posted_the_old_way_closes_the_task_too(
    client, tokens, services: Services, tasks
) -> None:
    ingest = bearer(tokens["ingest"])
    event = {"id": "x-1", "type": "task_completed", "member": "m-1", "at": T,
             "data": {"flow": "care", "node": "call", "outcome": "done"}}  # fmt: skip
    assert client.post("/api/events", json=event, headers=ingest).status_code == 202
    assert services.store.get_member("m-1").tags == ["called"]
    task = client.get(f"/api/tasks/{tasks['m-1']}", headers=bearer(tokens["viewer"])).json()
    assert task["status"] == "done"


def test_who_may_close_tasks_and_bad_input(client, tokens, services: Services, tasks) -> None:
    for role in ("viewer", "ingest"):
        answer = client.post(f"/api/tasks/{tasks['m-1']}/done", headers=bearer(tokens[role]))
        assert answer.status_code == 403, role
    assert client.get("/api/tasks", headers=bearer(tokens["ingest"])).status_code == 403
    assert services.store.get_member("m-1").tags == []
    admin = bearer(tokens["admin"])
    missing = client.post("/api/tasks/999999/done", headers=admin)
    assert missing.status_code == 404 and "999999" in missing.json()["message"]
    bad = client.get("/api/tasks?status=later", headers=admin)
    assert bad.status_code in (400, 422) and "status" in bad.text
    # A message delivery is no task.
    assert client.post("/api/tasks/0/done", headers=admin).status_code in (400, 404)
