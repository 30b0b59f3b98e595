"""`POST /api/events`: one event or a list, each id once, bad input refused whole."""

from __future__ import annotations

from api_helpers import bearer, joined, welcome_flow


def test_one_event_or_a_list_answers_accepted_and_duplicate(client, tokens) -> None:
    auth = bearer(tokens["ingest"])
    answer = client.post("/api/events", json=joined("e-1", "m-1"), headers=auth)
    assert (answer.status_code, answer.json()) == (202, {"accepted": 1, "duplicate": 0})
    batch = [joined("e-1", "m-1"), joined("e-2", "m-2"), joined("e-2", "m-2"), joined("e-3", "m-3")]
    answer = client.post("/api/events", json=batch, headers=auth)
    assert (answer.status_code, answer.json()) == (202, {"accepted": 2, "duplicate": 2})
    assert client.post("/api/events", json=[], headers=auth).json() == {"accepted": 0, "duplicate": 0}


def test_a_duplicate_is_acted_on_once(client, tokens) -> None:
    client.post("/api/flows", json=welcome_flow(), headers=bearer(tokens["operator"]))
    client.post("/api/flows/welcome/publish", headers=bearer(tokens["operator"]))
    for _ in range(3):
        client.post("/api/events", json=joined("e-1", "m-1"), headers=bearer(tokens["ingest"]))
    runs = client.get("/api/runs?member=m-1", headers=bearer(tokens["viewer"])).json()["items"]
    assert len(runs) == 1


def test_a_bad_event_names_the_field_and_nothing_of_the_request_is_stored(client, tokens) -> None:
    auth = bearer(tokens["ingest"])
    batch = [joined("e-1", "m-1"), {"id": "e-2", "type": "purchase", "member": "m-2",
                                    "at": "2026-11-22T10:00:00+08:00", "data": {"amount": -3}}]  # fmt: skip
    answer = client.post("/api/events", json=batch, headers=auth)
    assert answer.status_code == 422
    assert (answer.json()["field"], answer.json()["index"]) == ("data.amount", 1)
    assert client.get("/api/members/m-1", headers=bearer(tokens["viewer"])).status_code == 404
    # e-1 was not stored: sending it again is not a duplicate.
    assert client.post("/api/events", json=joined("e-1", "m-1"), headers=auth).json()["accepted"] == 1


def test_event_field_errors(client, tokens) -> None:
    auth = bearer(tokens["ingest"])
    cases = {
        "at": {"id": "x", "type": "message", "member": "m", "at": "2026-11-22T10:00:00"},  # no offset
        "member": {"id": "x", "type": "message", "at": "2026-11-22T10:00:00+08:00"},
        "id": {"type": "message", "member": "m", "at": "2026-11-22T10:00:00+08:00"},
        "colour": {"id": "x", "type": "custom", "at": "2026-11-22T10:00:00+08:00", "colour": "red"},
    }
    for field, event in cases.items():
        answer = client.post("/api/events", json=event, headers=auth)
        assert answer.status_code == 422, (field, answer.text)
        assert field in (answer.json()["field"] or answer.json()["message"]), (field, answer.json())


def test_malformed_json_is_400(client, tokens) -> None:
    answer = client.post("/api/events", content=b'{"id": "x",', headers=bearer(tokens["ingest"]))
    assert answer.status_code == 400
    assert answer.json()["error"] == "malformed"
