"""`/api/staff` and `/api/tags` (DESIGN §15), and their pages: stored, read, searched, replaced and
removed; bad input is a 4xx naming the field, and nothing of it is stored."""

from __future__ import annotations

import pytest
from api_helpers import bearer


@pytest.fixture
def operator(tokens) -> dict[str, str]:
    return bearer(tokens["operator"])


def test_staff_accounts_through_the_api(client, operator, tokens) -> None:
    many = [{"id": "s-2", "name": "小李"}, {"id": "s-1", "name": "小王", "daily_friend_limit": 15}]
    assert client.post("/api/staff", json=many, headers=operator).status_code == 200
    viewer = bearer(tokens["viewer"])
    assert client.get("/api/staff/s-1", headers=viewer).json() == {
        "id": "s-1",
        "name": "小王",
        "daily_friend_limit": 15,
    }
    assert [s["id"] for s in client.get("/api/staff", headers=viewer).json()["items"]] == ["s-1", "s-2"]
    assert [s["id"] for s in client.get("/api/staff?q=小李", headers=viewer).json()["items"]] == ["s-2"]
    replaced = client.put("/api/staff/s-1", json={"name": "王"}, headers=operator).json()
    assert replaced == {"id": "s-1", "name": "王", "daily_friend_limit": None}
    assert client.delete("/api/staff/s-1", headers=operator).status_code == 204
    assert client.get("/api/staff/s-1", headers=operator).status_code == 404
    assert client.delete("/api/staff/s-1", headers=operator).status_code == 404


def test_the_tag_library_through_the_api(client, operator, tokens) -> None:
    tags = [
        {"name": "fans", "category": "behaviour", "color": "#0b7a75"},
        {"name": "qr-live", "category": "channel"},
    ]
    assert client.post("/api/tags", json=tags, headers=operator).status_code == 200
    viewer = bearer(tokens["viewer"])
    assert client.get("/api/tags", headers=viewer).json() == [
        {"name": "fans", "category": "behaviour", "color": "#0b7a75"},
        {"name": "qr-live", "category": "channel", "color": None},
    ]
    assert [t["name"] for t in client.get("/api/tags?category=channel", headers=viewer).json()] == ["qr-live"]
    assert [t["name"] for t in client.get("/api/tags?q=FAN", headers=viewer).json()] == ["fans"]
    assert client.post("/api/tags", json={"name": "vip"}, headers=operator).json() == [
        {"name": "vip", "category": "other", "color": None}
    ]
    assert client.delete("/api/tags/fans", headers=operator).status_code == 204
    assert client.delete("/api/tags/fans", headers=operator).status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/staff", {"id": "s-1", "daily_friend_limit": 0}, "daily_friend_limit"),
        ("/api/staff", [{"id": "s-1"}, {"name": "no id"}], "staff[1]"),
        ("/api/tags", {"name": "x", "category": "mood"}, "category"),
        ("/api/tags", {"name": "x", "color": "red"}, "color"),
        ("/api/tags", {"name": ""}, "name"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(client, operator, path, body, field) -> None:
    answer = client.post(path, json=body, headers=operator)
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["message"]
    listed = client.get(path, headers=operator).json()
    assert (listed["items"] if isinstance(listed, dict) else listed) == []


def test_the_staff_and_tag_pages(client, sign_in, services) -> None:
    csrf = sign_in("operator")
    form = {"_csrf": csrf, "id": "s-1", "name": "小王", "daily_friend_limit": "12"}
    assert client.post("/staff", data=form, follow_redirects=False).status_code == 303
    assert services.store.get_staff("s-1").daily_friend_limit == 12
    assert 'value="12"' in client.get("/staff?edit=s-1").text
    answer = client.post("/staff", data={**form, "daily_friend_limit": "-3"}, headers={"accept": "text/html"})
    assert answer.status_code == 422 and "daily_friend_limit" in answer.text
    files = {
        "file": (
            "tags.csv",
            b"name,category,color\nfans,behaviour,#0b7a75\nqr-1,channel,\n",
            "text/csv",
        )
    }
    answer = client.post("/tags/import", data={"_csrf": csrf}, files=files, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/tags?imported=2"
    page = client.get("/tags")
    assert "fans" in page.text and "渠道" in page.text
    bad = {"file": ("tags.csv", b"name,category\nok,channel\nbad,mood\n", "text/csv")}
    answer = client.post("/tags/import", data={"_csrf": csrf}, files=bad, headers={"HX-Request": "true"})
    assert answer.status_code == 422 and answer.json()["message"].startswith("tags.csv line 3: category")
    assert [t.name for t in services.store.list_tags()] == ["fans", "qr-1"]
    assert client.post("/tags/fans/delete", data={"_csrf": csrf}, follow_redirects=False).status_code == 303
    assert [t.name for t in services.store.list_tags()] == ["qr-1"]
