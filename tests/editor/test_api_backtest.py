"""`POST /api/flows/{id}/backtest` (DESIGN §17): the draft over the last N days of stored events."""

from __future__ import annotations

from api_helpers import bearer, joined, welcome_flow

from qunflow.editor.services import Services

# The services' clock stands at 2026-11-22 10:00 in Shanghai.
EVENTS = [
    joined("b-1", "m-1", "2026-11-10T09:00:00+08:00"),
    joined("b-2", "m-2", "2026-11-20T09:00:00+08:00"),
    joined("b-3", "m-3", "2026-09-01T09:00:00+08:00"),  # before a 30-day span
]


def stored(client, auth) -> None:
    assert client.post("/api/events", json=EVENTS, headers=auth).status_code == 202
    assert client.post("/api/flows", json=welcome_flow(), headers=auth).status_code == 200


def test_the_draft_runs_over_stored_events_and_nothing_real_changes(
    client, tokens, services: Services
) -> None:
    auth = bearer(tokens["operator"])
    stored(client, auth)
    members_before = client.get("/api/members/m-1", headers=auth).json()
    answer = client.post("/api/flows/welcome/backtest", json={"days": 30}, headers=auth)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["flow"], result["days"], result["events"], result["entered"]) == ("welcome", 30, 2, 2)
    assert result["nodes"]["welcome"] == {"joined": 2, "tag": 2, "wait": 2, "coupon": 2}
    assert result["runs"]["welcome"]["done"] == 2
    coupons = {d["date"]: d["kinds"] for d in result["per_day"] if d["kinds"]}
    assert coupons == {"2026-11-11": {"coupon": 1}, "2026-11-21": {"coupon": 1}}
    assert [(d["member"], d["kind"]) for d in result["deliveries"]] == [("m-1", "coupon"), ("m-2", "coupon")]
    assert result["quota"] is None and result["budget"] is None
    # Nothing real: no runs, no deliveries, the member as before (no `new` tag), the flow not live.
    assert client.get("/api/runs", headers=auth).json()["items"] == []
    assert client.get("/api/deliveries", headers=auth).json()["items"] == []
    assert client.get("/api/members/m-1", headers=auth).json() == members_before
    assert client.get("/api/flows/welcome", headers=auth).json()["live_version"] is None

    shorter = client.post("/api/flows/welcome/backtest", json={"days": 5}, headers=auth).json()
    assert shorter["entered"] == 1


def test_a_budget_in_the_body_and_the_wecom_quota_are_counted(client, tokens, services: Services) -> None:
    auth = bearer(tokens["operator"])
    client.post("/api/events", json=EVENTS, headers=auth)
    flow = welcome_flow()
    flow["nodes"][3] = {"id": "coupon", "type": "action.send_message", "config": {"text": "hi"}}
    flow["nodes"].append({"id": "again", "type": "action.send_message", "config": {"text": "again"}})
    flow["edges"].append({"from": "coupon", "to": "again"})
    client.post("/api/flows", json=flow, headers=auth)
    body = {"days": 30, "budget": {"messages": 1, "per": "P1D"}}
    result = client.post("/api/flows/welcome/backtest", json=body, headers=auth).json()
    assert result["budget"] == {"messages": 1, "per": "P1D", "counted": 2, "over": 2, "members_over": 2}
    # The quota counts once the WeCom connector has options (stored as an admin's PUT stores them).
    from qunflow.engine.store import schema as t

    with services.store.transaction() as conn:
        conn.execute(
            t.connector_settings.insert().values(
                name="wecom", options='{"mass_send_limit": {"count": 1, "per": "week"}}', updated_at=0
            )
        )
    result = client.post("/api/flows/welcome/backtest", json={"days": 30}, headers=auth).json()
    assert result["quota"] == {"count": 1, "per": "week", "sends": 4, "over": 2, "members_over": 2}


def test_bad_requests_name_the_field(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    stored(client, auth)
    for days in (0, 91, 2.5, "many"):
        answer = client.post("/api/flows/welcome/backtest", json={"days": days}, headers=auth)
        assert 400 <= answer.status_code < 500, answer.text
        assert "days" in answer.text
    answer = client.post(
        "/api/flows/welcome/backtest", json={"days": 30, "budget": {"messages": 0}}, headers=auth
    )
    assert answer.status_code == 422 and "budget" in answer.text
    answer = client.post("/api/flows/welcome/backtest", json={"version": 3}, headers=auth)
    assert answer.status_code == 404 and "version 3" in answer.json()["message"]
    assert client.post("/api/flows/nope/backtest", json={}, headers=auth).status_code == 404
    viewer = bearer(tokens["viewer"])
    assert client.post("/api/flows/welcome/backtest", json={}, headers=viewer).status_code == 403


def test_a_draft_with_problems_gets_them_back(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    client.post("/api/events", json=EVENTS, headers=auth)
    draft = welcome_flow()
    # A draft may name a content item that does not exist (yet); running it may not.
    draft["nodes"][3] = {"id": "coupon", "type": "action.send_message", "config": {"content": "missing"}}
    assert client.post("/api/flows", json=draft, headers=auth).status_code == 200
    answer = client.post("/api/flows/welcome/backtest", json={"days": 30}, headers=auth)
    assert answer.status_code == 422
    assert [(p["node"], p["path"]) for p in answer.json()["problems"]] == [("coupon", "config.content")]


def test_a_published_version_can_be_backtested(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    stored(client, auth)
    client.post("/api/flows/welcome/publish", headers=auth)
    changed = welcome_flow()
    changed["nodes"][3]["config"] = {"coupon": "v2"}
    client.post("/api/flows", json=changed, headers=auth)
    draft = client.post("/api/flows/welcome/backtest", json={}, headers=auth).json()
    first = client.post("/api/flows/welcome/backtest", json={"version": 1}, headers=auth).json()
    assert draft["deliveries"][0]["payload"] == {"coupon": "v2"}
    assert first["deliveries"][0]["payload"] == {"coupon": "welcome-10"}
