"""Input the store cannot hold is refused at the door with a 4xx naming the field, and nothing of it
is stored (#13.4, #13.5): timestamps out of range, money and points out of range, NUL characters
(which PostgreSQL refuses), and a NUL in a static file's path. Rows stored before these checks still
read without a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from api_helpers import PASSWORD, bearer, joined, login_csrf, welcome_flow

from qunflow.engine.errors import NotFound
from qunflow.engine.event import Event

T = "2026-11-22T10:00:00+08:00"
FAR = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-12:00", "1969-12-31T23:59:59+00:00"]


def stored(services, member_id: str) -> bool:
    try:
        services.store.get_member(member_id)
    except NotFound:
        return False
    return True


def purchase(event_id: str, amount: object) -> dict[str, object]:
    return {"id": event_id, "type": "purchase", "member": "m-buy", "at": T, "data": {"amount": amount}}


@pytest.mark.parametrize("at", FAR)
def test_an_event_at_a_moment_out_of_range_is_refused_naming_at(client, tokens, services, at) -> None:
    answer = client.post(
        "/api/events",
        json=[joined("e-ok", "m-ok"), joined("e-far", "m-far", at)],
        headers=bearer(tokens["ingest"]),
    )
    assert answer.status_code == 422
    body = answer.json()
    assert (body["field"], body["index"]) == ("at", 1)
    assert "1970" in body["message"] and "9000" in body["message"]
    assert not stored(services, "m-ok") and not stored(services, "m-far")


def test_purchase_amounts_out_of_range_are_refused(client, tokens, services) -> None:
    ingest = {**bearer(tokens["ingest"]), "content-type": "application/json"}
    body = b'{"id": "p1", "type": "purchase", "member": "m-buy", "at": "%s", "data": {"amount": 1e400}}'
    overflow = client.post("/api/events", content=body % T.encode(), headers=ingest)
    assert overflow.status_code == 400 and "out of range" in overflow.json()["message"]
    huge = client.post("/api/events", json=purchase("p2", 1e300), headers=ingest)
    assert huge.status_code == 422 and huge.json()["field"] == "data.amount"
    fine = client.post("/api/events", json=purchase("p3", 99.5), headers=ingest)
    assert fine.status_code == 202
    assert services.store.get_member("m-buy").total_spend == 99.5


def test_a_preview_refuses_what_it_could_not_compute_with(client, tokens) -> None:
    admin = bearer(tokens["admin"])
    assert client.post("/api/flows", json=welcome_flow(), headers=admin).status_code == 200

    def preview(**body: object) -> dict[str, object]:
        answer = client.post("/api/flows/welcome/preview", json=body, headers=admin)
        assert answer.status_code == 422, answer.text
        return answer.json()

    assert preview(events=[joined("e-1", "m-1")], members=[{"id": "m-1", "points": 2**63}])["field"] == (
        "members[0].points"
    )
    assert preview(events=[joined("e-1", "m-1", FAR[1])])["field"] == "events[0].at"
    assert preview(events=[], start=FAR[0], until="P1D")["message"].startswith("start: ")
    assert preview(events=[joined("e-1", "m-1")], until=FAR[1])["message"].startswith("until: ")
    assert preview(events=[joined("e-1", "m-1")], until="P3000000D")["message"].startswith("until: ")
    amount = preview(events=[purchase("p", 1e300)], until="P1D")
    assert amount["field"] == "events[0].data.amount"


def test_rows_stored_before_the_checks_still_read(client, tokens, services, sign_in) -> None:
    ancient = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    services.engine.ingest([Event(id="old", type="member_joined", member="m-old", group="g", at=ancient)])
    assert client.get("/api/members/m-old", headers=bearer(tokens["viewer"])).status_code == 200
    sign_in("viewer")
    assert client.get("/members/m-old").status_code == 200


def test_a_nul_in_a_static_path_is_not_found(client) -> None:
    assert client.get("/static/%00").status_code == 404
    assert client.get("/static/x%00.js").status_code == 404


def test_nul_characters_are_refused_at_the_door_naming_the_field(client, services, sign_in, tokens) -> None:
    page = client.get("/login")
    login = client.post(
        "/login",
        data={"username": "ad\x00min", "password": PASSWORD, "_csrf": login_csrf(page.text), "next": "/"},
        follow_redirects=False,
    )
    assert 400 <= login.status_code < 500 and "username" in login.json()["message"]

    sign_in("admin")
    csrf = client.cookies["qunflow_csrf"]
    flow = client.post(
        "/flows/new", data={"id": "nul", "name": "a\x00b", "template": "welcome-vip", "_csrf": csrf}
    )
    assert flow.status_code == 422 and flow.json()["message"].startswith("name: ")
    assert "nul" not in {f["id"] for f in services.store.list_flows()}

    before = len(services.accounts.tokens())
    token = client.post("/admin/tokens", data={"role": "ingest", "label": "C\x00RM", "_csrf": csrf})
    assert token.status_code == 422 and token.json()["message"].startswith("label: ")
    assert len(services.accounts.tokens()) == before

    admin = bearer(tokens["admin"])
    event = client.post("/api/events", json=joined("e-nul", "m\x00"), headers=admin)
    assert event.status_code == 422 and "member" in event.json()["message"]
    draft = welcome_flow("nul-json", name="x\x00")
    saved = client.post("/api/flows", json=draft, headers=admin)
    assert saved.status_code == 422 and saved.json()["message"].startswith("name: ")
    query = client.get("/api/runs", params={"member": "a\x00"}, headers=admin)
    assert 400 <= query.status_code < 500 and "member" in query.json()["message"]
    assert all("\x00" not in member for member in services.store.all_members())


def test_the_accepted_range_leaves_room_for_durations() -> None:
    # The bounds the door keeps leave room for the longest duration a flow may hold (ten years).
    from qunflow.engine.compiler import MAX_DURATION
    from qunflow.engine.limits import LATEST

    assert LATEST + MAX_DURATION < datetime(9999, 1, 1, tzinfo=UTC)
