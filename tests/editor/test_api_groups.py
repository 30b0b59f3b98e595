"""`/api/groups` (DESIGN §15): register, read, search, replace and remove groups; bad input is a 4xx
naming the field, and nothing of it is stored."""

from __future__ import annotations

import pytest
from api_helpers import bearer


@pytest.fixture
def operator(tokens) -> dict[str, str]:
    return bearer(tokens["operator"])


FANS = {
    "id": "g-fans-1",
    "name": "粉丝福利 1 群",
    "tags": ["fans"],
    "kind": "fans",
    "capacity": 200,
    "owner": "s-1",
}


def test_groups_are_registered_one_or_many_and_read_back(client, operator, tokens) -> None:
    answer = client.post("/api/groups", json=FANS, headers=operator)
    assert answer.status_code == 200, answer.text
    assert answer.json() == [{**FANS, "members": 0}]
    many = [{"id": "vip-1", "name": "VIP 1", "kind": "vip"}, {"id": "vip-2", "tags": ["vip"]}]
    assert [g["id"] for g in client.post("/api/groups", json=many, headers=operator).json()] == [
        "vip-1",
        "vip-2",
    ]
    viewer = bearer(tokens["viewer"])
    assert client.get("/api/groups/g-fans-1", headers=viewer).json() == {**FANS, "members": 0}
    page = client.get("/api/groups", headers=viewer).json()
    assert [g["id"] for g in page["items"]] == ["g-fans-1", "vip-1", "vip-2"]
    assert page["next_offset"] is None
    assert [g["id"] for g in client.get("/api/groups?q=福利", headers=viewer).json()["items"]] == ["g-fans-1"]
    assert [g["id"] for g in client.get("/api/groups?tag=vip", headers=viewer).json()["items"]] == ["vip-2"]
    assert [g["id"] for g in client.get("/api/groups?kind=vip", headers=viewer).json()["items"]] == ["vip-1"]
    paged = client.get("/api/groups?limit=2&offset=0", headers=viewer).json()
    assert (len(paged["items"]), paged["next_offset"]) == (2, 2)


def test_members_joining_count_in_the_group(client, operator, tokens) -> None:
    client.post("/api/groups", json=FANS, headers=operator)
    event = {"id": "e-1", "type": "member_joined", "member": "m-1", "group": "g-fans-1",
             "at": "2026-11-22T10:00:00+08:00"}  # fmt: skip
    assert client.post("/api/events", json=event, headers=bearer(tokens["ingest"])).status_code == 202
    assert client.get("/api/groups/g-fans-1", headers=operator).json()["members"] == 1
    # Registering again changes the group's data, never its member count.
    client.post("/api/groups", json={**FANS, "name": "改名"}, headers=operator)
    assert client.get("/api/groups/g-fans-1", headers=operator).json()["members"] == 1
    answer = client.delete("/api/groups/g-fans-1", headers=operator)
    assert answer.status_code == 409 and "1 members" in answer.json()["message"]


def test_put_replaces_a_group_and_delete_removes_it(client, operator) -> None:
    client.post("/api/groups", json=FANS, headers=operator)
    answer = client.put("/api/groups/g-fans-1", json={"name": "新名字", "kind": "other"}, headers=operator)
    assert answer.status_code == 200
    unset = {"tags": [], "capacity": None, "owner": None, "members": 0}
    assert answer.json() == {"id": "g-fans-1", "name": "新名字", "kind": "other", **unset}
    created = client.put("/api/groups/g-new", json={"id": "g-new", "capacity": 5}, headers=operator)
    assert created.status_code == 200 and created.json()["capacity"] == 5
    mismatch = client.put("/api/groups/g-new", json={"id": "other"}, headers=operator)
    assert mismatch.status_code == 422 and mismatch.json()["message"].startswith("id:")
    assert client.delete("/api/groups/g-new", headers=operator).status_code == 204
    assert client.get("/api/groups/g-new", headers=operator).status_code == 404
    assert client.delete("/api/groups/g-new", headers=operator).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "g-1", "capacity": -1}, "capacity"),
        ({"id": "g-1", "capacity": 0}, "capacity"),
        ({"id": "g-1", "kind": "party"}, "kind"),
        ({"name": "no id"}, "id"),
        ({"id": ""}, "id"),
        ({"id": "g-1", "colour": "red"}, "colour"),
        ({"id": "g-1", "tags": "fans"}, "tags"),
        ([{"id": "g-1"}, {"id": "g-2", "capacity": -1}], "groups[1].capacity"),
        ({"id": "g-1", "name": "a\u0000b"}, "name"),
    ],
)
def test_a_bad_group_is_refused_naming_the_field_and_nothing_is_stored(client, operator, body, field) -> None:
    answer = client.post("/api/groups", json=body, headers=operator)
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["message"]
    assert client.get("/api/groups", headers=operator).json()["items"] == []


def test_a_body_that_is_not_a_group_is_refused(client, operator) -> None:
    # Well-formed JSON of the wrong shape is invalid (422), malformed JSON is a 400 (README, errors).
    assert client.post("/api/groups", json="g-1", headers=operator).status_code == 422
    assert client.post("/api/groups", content=b"{not json", headers=operator).status_code == 400
    answer = client.put("/api/groups/g-1", json={"capacity": "many"}, headers=operator)
    assert answer.status_code == 422 and "capacity" in answer.json()["message"]


def test_the_routes_are_described_in_the_openapi_document(client) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    assert set(paths["/api/groups"]) == {"get", "post"}
    assert set(paths["/api/groups/{group_id}"]) == {"get", "put", "delete"}
