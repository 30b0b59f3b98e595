"""`/api/members` (DESIGN §15): search and filters, the blacklist set and lifted, bulk changes; every
change is in the member's timeline with who made it, and a tag added by hand fires `tag_added`."""

from __future__ import annotations

import pytest
from api_helpers import bearer

from qunflow.engine.member import MemberRecord


@pytest.fixture
def community(services) -> None:
    records = [
        MemberRecord(
            "m-1", "小林", "qr-live", ["vip", "new"], groups=["g-fans-1"], grade="A", stage="member"
        ),
        MemberRecord("m-2", "阿强", "qr-store", ["new"], groups=["g-fans-1", "vip-1"], grade="B"),
        MemberRecord("m-3", "Lily", "qr-live", [], blacklisted=True, stage="prospect"),
        MemberRecord("x_100%", "百分百"),
    ]
    services.store.put_members([r.to_member(services.now_us()) for r in records])


def ids(answer) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [m["id"] for m in answer.json()["items"]]


def test_members_are_searched_and_filtered(client, tokens, community) -> None:
    viewer = bearer(tokens["viewer"])
    assert ids(client.get("/api/members", headers=viewer)) == ["m-1", "m-2", "m-3", "x_100%"]
    assert ids(client.get("/api/members?q=小林", headers=viewer)) == ["m-1"]
    assert ids(client.get("/api/members?q=LILY", headers=viewer)) == ["m-3"]
    assert ids(client.get("/api/members?q=0%25", headers=viewer)) == ["x_100%"]
    assert ids(client.get("/api/members?tag=new", headers=viewer)) == ["m-1", "m-2"]
    assert ids(client.get("/api/members?group=vip-1", headers=viewer)) == ["m-2"]
    assert ids(client.get("/api/members?grade=A", headers=viewer)) == ["m-1"]
    assert ids(client.get("/api/members?stage=prospect", headers=viewer)) == ["m-3"]
    assert ids(client.get("/api/members?channel=qr-live&tag=vip", headers=viewer)) == ["m-1"]
    assert ids(client.get("/api/members?blacklisted=true", headers=viewer)) == ["m-3"]
    assert ids(client.get("/api/members?blacklisted=false&limit=2&offset=1", headers=viewer)) == [
        "m-2",
        "x_100%",
    ]
    assert client.get("/api/members?grade=Z", headers=viewer).status_code == 400


def test_the_blacklist_is_set_and_lifted_and_the_timeline_says_who(
    client, tokens, community, sign_in
) -> None:
    csrf = sign_in("operator")
    answer = client.delete("/api/members/m-3/blacklist", headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200 and answer.json()["blacklisted"] is False
    assert (
        client.post("/api/members/m-1/blacklist", headers={"X-CSRF-Token": csrf}).json()["blacklisted"]
        is True
    )
    timeline = client.get("/api/members/m-3").json()["timeline"]
    assert [(e["title"], e["data"]["data"]) for e in timeline] == [
        ("member_edited", {"by": "operator-user", "blacklist": False})
    ]
    assert client.post("/api/members/nobody/blacklist", headers={"X-CSRF-Token": csrf}).status_code == 404


def test_bulk_changes_many_members_or_none(client, tokens, community, services) -> None:
    operator = bearer(tokens["operator"])
    # A flow that listens for the tag: a tag added by hand starts it like any other tag.
    flow = {"id": "on-gold", "nodes": [
        {"id": "t", "type": "trigger.tag_added", "config": {"tags": ["gold"]}},
        {"id": "c", "type": "action.send_coupon", "config": {"coupon": "gold-5"}}],
        "edges": [{"from": "t", "to": "c"}]}  # fmt: skip
    client.post("/api/flows", json=flow, headers=operator)
    client.post("/api/flows/on-gold/publish", headers=operator)
    body = {"members": ["m-1", "m-2"], "add_tags": ["gold"], "remove_tags": ["new"], "blacklist": True}
    answer = client.post("/api/members/bulk", json=body, headers=operator)
    assert answer.status_code == 200 and answer.json() == {"changed": 2}
    for member_id in ("m-1", "m-2"):
        member = client.get(f"/api/members/{member_id}", headers=operator).json()
        assert "gold" in member["member"]["tags"] and "new" not in member["member"]["tags"]
        assert member["member"]["blacklisted"] is True
        assert member["timeline"][-1]["data"]["data"]["by"].startswith("token:")
    services.run_due()
    coupons = client.get("/api/deliveries?flow=on-gold", headers=operator).json()["items"]
    assert sorted(d["member"] for d in coupons) == ["m-1", "m-2"]

    missing = client.post(
        "/api/members/bulk", json={"members": ["m-3", "ghost"], "add_tags": ["x"]}, headers=operator
    )
    assert missing.status_code == 404 and "ghost" in missing.json()["message"]
    assert "x" not in client.get("/api/members/m-3", headers=operator).json()["member"]["tags"]
    nothing = client.post("/api/members/bulk", json={"members": ["m-3"]}, headers=operator)
    assert nothing.status_code == 422
    assert client.post("/api/members/bulk", json={"members": []}, headers=operator).status_code == 422


def test_member_edited_events_cannot_be_posted_from_outside(client, tokens, community) -> None:
    event = {"id": "e-x", "type": "member_edited", "member": "m-3", "at": "2026-11-22T10:00:00+08:00",
             "data": {"blacklist": False}}  # fmt: skip
    answer = client.post("/api/events", json=event, headers=bearer(tokens["ingest"]))
    assert answer.status_code == 422 and answer.json()["field"] == "type"
