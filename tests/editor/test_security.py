"""CSRF, escaping, secrets never shown, and bad or oversized bodies refused with nothing stored."""

from __future__ import annotations

import re

import pytest
from api_helpers import bearer, joined, welcome_flow
from litestar.testing import TestClient
from sqlalchemy import select

from qunflow.editor.app import DEFAULT_MAX_BODY, create_app
from qunflow.editor.services import Services
from qunflow.engine.store import schema as t

XSS = ['<script>alert("xss")</script>', '<img src=x onerror="alert(1)">', '"><svg onload=alert(1)>']
POST_ROUTES = [
    "/api/flows",
    "/api/flows/welcome/validate",
    "/api/flows/welcome/preview",
    "/api/events",
    "/api/users",
    "/api/tokens",
]


def nothing_stored(services: Services) -> None:
    assert services.store.list_flows() == []
    assert services.store.all_members() == {}
    assert services.store.runs() == []


# -- CSRF ---------------------------------------------------------------------------------------------


def test_a_session_request_without_the_csrf_token_is_refused_and_stores_nothing(
    client, sign_in, services
) -> None:
    csrf = sign_in("operator")
    for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": csrf[:-1]}):
        answer = client.post("/api/flows", json=welcome_flow(), headers=headers)
        assert (answer.status_code, answer.json()["error"]) == (403, "csrf")
        answer = client.post("/api/events", json=joined("e-1", "m-1"), headers=headers)
        assert answer.status_code == 403
    nothing_stored(services)
    assert client.post("/api/flows", json=welcome_flow(), headers={"X-CSRF-Token": csrf}).status_code == 200


def test_a_form_post_without_the_csrf_field_is_refused(client, sign_in) -> None:
    sign_in("viewer")
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert client.get("/api/flows").status_code == 200  # still signed in


def test_the_csrf_token_of_another_session_does_not_work(client, app, sign_in, services) -> None:
    other = TestClient(app)
    services.accounts.create_user("other", "another password", "operator", services.now_us())
    page = other.get("/login")
    csrf_field = re.search(r'name="_csrf" value="([^"]+)"', page.text).group(1)
    other.post("/login", data={"username": "other", "password": "another password", "_csrf": csrf_field})
    foreign = other.cookies["qunflow_csrf"]
    sign_in("operator")
    assert (
        client.post("/api/flows", json=welcome_flow(), headers={"X-CSRF-Token": foreign}).status_code == 403
    )


def test_bearer_requests_need_no_csrf_token(client, tokens) -> None:
    assert (
        client.post("/api/flows", json=welcome_flow(), headers=bearer(tokens["operator"])).status_code == 200
    )


# -- escaping -----------------------------------------------------------------------------------------


def hostile_flow() -> dict:
    flow = welcome_flow(flow_id="hostile", name=XSS[0], description=XSS[1])
    for node, payload in zip(flow["nodes"], XSS * 2, strict=False):
        node["label"] = payload
    flow["nodes"].append(
        {"id": "say", "type": "action.send_message", "config": {"text": XSS[1]}, "label": XSS[2]}
    )
    flow["edges"].append({"from": "coupon", "to": "say"})
    return flow


def test_labels_and_texts_come_back_escaped_in_every_page(client, sign_in, tokens) -> None:
    assert (
        client.post("/api/flows", json=hostile_flow(), headers=bearer(tokens["operator"])).status_code == 200
    )
    client.post("/api/flows/hostile/publish", headers=bearer(tokens["operator"]))
    event = joined("e-1", "m-1")
    event["profile"] = {"name": XSS[0], "attributes": {"city": XSS[1]}}
    client.post("/api/events", json=event, headers=bearer(tokens["operator"]))
    sign_in("admin")
    pages = ["/", "/flows", "/flows/hostile", "/flows/hostile/edit", "/flows/hostile/history", "/members/m-1",
             "/runs", "/login?next=" + XSS[2]]  # fmt: skip
    seen = 0
    for path in pages:
        answer = client.get(path, headers={"accept": "text/html"})
        if answer.status_code != 200 or not answer.headers["content-type"].startswith("text/html"):
            continue
        seen += 1
        for payload in XSS:
            assert payload not in answer.text, (path, payload)
    assert seen >= 2
    home = client.get("/").text
    assert "&lt;script&gt;" in home or "\\u003cscript" in home


def test_api_answers_are_json_never_html(client, tokens) -> None:
    client.post("/api/flows", json=hostile_flow(), headers=bearer(tokens["operator"]))
    answer = client.get("/api/flows/hostile", headers=bearer(tokens["viewer"]))
    assert answer.headers["content-type"].startswith("application/json")


# -- secrets ------------------------------------------------------------------------------------------


def test_no_password_hash_or_token_digest_is_ever_returned(
    client, tokens, services: Services, sign_in
) -> None:
    admin = bearer(tokens["admin"])
    created = client.post("/api/users", json={"name": "lin", "password": "a long password", "role": "viewer"},
                          headers=admin)  # fmt: skip
    assert created.status_code == 201
    with services.store.engine.connect() as conn:
        secrets = [row[0] for row in conn.execute(select(t.users.c.password_hash))]
        secrets += [row[0] for row in conn.execute(select(t.api_tokens.c.digest))]
        secrets += [row[0] for row in conn.execute(select(t.app_secrets.c.value))]
    answers = [created.text]
    for path in (
        "/api/users",
        "/api/tokens",
        "/api/flows",
        "/api/runs",
        "/api/deliveries",
        "/schema/openapi.json",
    ):
        answers.append(client.get(path, headers=admin).text)
    answers.append(client.post("/api/tokens", json={"role": "viewer"}, headers=admin).text)
    csrf = sign_in("admin")
    answers.append(client.get("/").text)
    assert secrets
    for text in answers:
        assert "$argon2" not in text and "password_hash" not in text and "digest" not in text
        assert not any(secret in text for secret in secrets)
    assert csrf  # the CSRF token is an HMAC, not the session id
    assert csrf not in client.cookies["qunflow_session"]


# -- bad bodies ---------------------------------------------------------------------------------------

BAD_BODIES = [
    b"{",
    b"[1, 2",
    b"\xff\xfe\x00garbage",
    b"null",
    b"123",
    b'"a string"',
    b"[" * 5000 + b"]" * 5000,
    b'{"id": "x\\u0000y", "type": "message", "member": "m", "at": "2026-11-22T10:00:00+08:00"}',
    b'{"id": "hostile", "name": "a\\u0000b", "nodes": []}',
    b'{"events": [{"id": 1}], "members": [{"id": null}]}',
    b'{"id": 99999999999999999999999999999, "role": "admin", "name": [], "password": {}}',
]


@pytest.mark.parametrize("path", POST_ROUTES)
def test_malformed_bodies_get_4xx_and_store_nothing(client, tokens, services: Services, path) -> None:
    for body in BAD_BODIES:
        answer = client.post(
            path, content=body, headers={**bearer(tokens["admin"]), "content-type": "application/json"}
        )
        if path.endswith("/validate") and answer.status_code == 200:
            # validating a JSON object that is not a flow is the validator's job: it lists problems
            assert answer.json()["valid"] is False
            continue
        assert 400 <= answer.status_code < 500, (path, body[:40], answer.status_code, answer.text)
        assert answer.json()["message"]
    nothing_stored(services)
    assert [u.name for u in services.accounts.users()] == []


@pytest.mark.parametrize("path", POST_ROUTES)
def test_bodies_over_the_limit_get_413_and_store_nothing(client, tokens, services: Services, path) -> None:
    events = [joined(f"e-{i}", f"m-{i}") for i in range(1000)]  # well over the fixture's 64 KB
    answer = client.post(path, json=events, headers=bearer(tokens["admin"]))
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large"
    nothing_stored(services)


def test_the_default_body_limit_is_2_mb(services: Services, tokens) -> None:
    assert DEFAULT_MAX_BODY == 2 * 1024 * 1024
    with TestClient(create_app(services, worker=False)) as client:
        padding = {"notes": "x" * (DEFAULT_MAX_BODY + 10)}
        answer = client.post(
            "/api/flows", json={**welcome_flow(), **padding}, headers=bearer(tokens["admin"])
        )
        assert answer.status_code == 413
        events = [joined(f"e-{i}", f"m-{i}") for i in range(3000)]  # about 0.5 MB
        answer = client.post("/api/events", json=events, headers=bearer(tokens["admin"]))
        assert answer.json() == {"accepted": 3000, "duplicate": 0}


@pytest.mark.parametrize(
    "path",
    ["/api/runs/99999999999999999999999/retry", "/api/members/%00", "/api/flows/%00/stats", "/api/tokens/-1"],
)
def test_out_of_range_path_parameters_are_4xx(client, tokens, path) -> None:
    method = "DELETE" if path.startswith("/api/tokens") else ("POST" if path.endswith("retry") else "GET")
    answer = client.request(method, path, headers=bearer(tokens["admin"]))
    assert 400 <= answer.status_code < 500, answer.text
