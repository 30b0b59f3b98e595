"""The role × route matrix (DESIGN §11): each role can do exactly what it may, and nothing more."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import ROLES, bearer, joined, welcome_flow
from litestar import Litestar

ALL = frozenset(ROLES)
READ = frozenset({"admin", "operator", "viewer"})
WRITE = frozenset({"admin", "operator"})
INGEST = frozenset({"admin", "operator", "ingest"})
ADMIN = frozenset({"admin"})

# (method, path, JSON body, the roles allowed)
MATRIX: list[tuple[str, str, Any, frozenset[str]]] = [
    ("GET", "/api/nodes", None, READ),
    ("GET", "/api/flows", None, READ),
    ("POST", "/api/flows", welcome_flow(), WRITE),
    ("GET", "/api/flows/welcome", None, READ),
    ("POST", "/api/flows/welcome/validate", None, READ),
    ("POST", "/api/flows/welcome/publish", None, WRITE),
    ("POST", "/api/flows/welcome/pause", None, WRITE),
    ("POST", "/api/flows/welcome/resume", None, WRITE),
    ("POST", "/api/flows/welcome/preview", {"events": [joined("p-1", "m-9")]}, WRITE),
    ("GET", "/api/flows/welcome/stats", None, READ),
    ("POST", "/api/events", joined("e-1", "m-1"), INGEST),
    ("GET", "/api/runs", None, READ),
    ("POST", "/api/runs/1/retry", None, WRITE),
    ("POST", "/api/runs/1/remove", None, WRITE),
    ("GET", "/api/members/m-1", None, READ),
    ("GET", "/api/members", None, READ),
    ("POST", "/api/members/m-1/blacklist", None, WRITE),
    ("DELETE", "/api/members/m-1/blacklist", None, WRITE),
    ("POST", "/api/members/bulk", {"members": ["m-1"], "add_tags": ["vip"]}, WRITE),
    ("GET", "/members", None, READ),
    ("GET", "/api/deliveries", None, READ),
    ("POST", "/api/deliveries/1/retry", None, WRITE),
    ("POST", "/api/deliveries/1/cancel", None, WRITE),
    ("GET", "/deliveries", None, READ),
    ("GET", "/api/groups", None, READ),
    ("POST", "/api/groups", [{"id": "g-1", "tags": ["fans"]}], WRITE),
    ("GET", "/api/groups/g-1", None, READ),
    ("PUT", "/api/groups/g-1", {"name": "一群"}, WRITE),
    ("DELETE", "/api/groups/g-1", None, WRITE),
    ("GET", "/groups", None, READ),
    ("GET", "/api/content", None, READ),
    ("POST", "/api/content", {"id": "c-1", "title": "欢迎", "text": "你好"}, WRITE),
    ("GET", "/api/content/c-1", None, READ),
    ("PUT", "/api/content/c-1", {"title": "欢迎", "text": "您好"}, WRITE),
    ("DELETE", "/api/content/c-1", None, WRITE),
    ("GET", "/api/staff", None, READ),
    ("POST", "/api/staff", [{"id": "s-1", "name": "小王", "daily_friend_limit": 20}], WRITE),
    ("GET", "/api/staff/s-1", None, READ),
    ("PUT", "/api/staff/s-1", {"name": "小王"}, WRITE),
    ("DELETE", "/api/staff/s-1", None, WRITE),
    ("GET", "/api/tags", None, READ),
    ("POST", "/api/tags", {"name": "fans", "category": "behaviour"}, WRITE),
    ("DELETE", "/api/tags/nobody-here", None, WRITE),
    ("GET", "/content", None, READ),
    ("GET", "/staff", None, READ),
    ("GET", "/tags", None, READ),
    ("GET", "/api/users", None, ADMIN),
    ("POST", "/api/users", {"name": "new-viewer", "password": "long enough", "role": "viewer"}, ADMIN),
    ("POST", "/api/users/nobody-here/password", {"password": "long enough"}, ADMIN),
    ("DELETE", "/api/users/nobody-here", None, ADMIN),
    ("GET", "/api/tokens", None, ADMIN),
    ("POST", "/api/tokens", {"role": "ingest", "label": "crm"}, ADMIN),
    ("DELETE", "/api/tokens/999", None, ADMIN),
    ("GET", "/api/connectors", None, ADMIN),
    ("PUT", "/api/connectors/webhook", {"secret": "a-signing-secret"}, ADMIN),
    ("PUT", "/api/connectors/nobody-here", {}, ADMIN),
    ("PUT", "/api/connectors/routes", {"webhook": "webhook"}, ADMIN),
    ("POST", "/api/connectors/nobody-here/test", None, ADMIN),
    ("POST", "/api/flows/welcome/backtest", {"days": 1}, WRITE),
    ("GET", "/api/settings", None, READ),
    ("PUT", "/api/settings", {"calendar": "cn"}, ADMIN),
    ("POST", "/api/flows/welcome/approve", None, ADMIN),
    ("POST", "/api/flows/welcome/reject", {"reason": "文案要改"}, ADMIN),
    ("POST", "/api/nodes/moments", {"type": "wait.until_time", "config": {"time": "09:00"}}, READ),
    ("PUT", "/api/flows/welcome/draft", welcome_flow(), WRITE),
    ("POST", "/api/flows/welcome/rollback", {"version": 1}, WRITE),
    ("POST", "/api/connectors/nobody-here/sync", None, ADMIN),
    ("POST", "/api/channels/qr-1/contact-way", {"staff": ["zhangsan"]}, WRITE),
    ("POST", "/api/groups/g-1/join-way", None, WRITE),
    ("GET", "/", None, READ),
    ("GET", "/api/tasks", None, READ),
    ("GET", "/api/tasks/1", None, READ),
    ("POST", "/api/tasks/1/done", None, WRITE),
    ("POST", "/api/tasks/1/skip", None, WRITE),
    ("GET", "/tasks", None, READ),
    ("GET", "/api/reports", None, READ),
    ("GET", "/api/reports/nobody-here", None, READ),
    ("GET", "/reports/funnel", None, READ),
    ("GET", "/api/channels", None, READ),
    ("GET", "/api/channels/qr-1", None, READ),
    ("PUT", "/api/channels/qr-1", {"name": "直播码", "cost": 10}, WRITE),
    ("DELETE", "/api/channels/qr-1", None, WRITE),
    ("GET", "/channels", None, READ),
    ("POST", "/api/flows/welcome/layout", None, READ),
    ("GET", "/api/flows/welcome/changes", None, READ),
    ("GET", "/api/flows/welcome/reach", None, READ),
    ("POST", "/api/flows/welcome/nodes/joined/test-send", {"member": "m-1"}, WRITE),
]
IDS = [f"{method} {path}" for method, path, _, _ in MATRIX]
# Routes anyone may reach: signing in, the API description, static files, the language switch.
# WeCom's callbacks carry WeCom's own signature instead (DESIGN §20).
PUBLIC_PREFIXES = ("/login", "/schema", "/static", "/lang", "/wecom/callback")


@pytest.fixture
def prepared(client, tokens) -> dict[str, str]:
    assert client.post("/api/flows", json=welcome_flow(), headers=bearer(tokens["admin"])).status_code == 200
    return tokens


@pytest.mark.parametrize(("method", "path", "body", "allowed"), MATRIX, ids=IDS)
def test_each_role_may_do_exactly_its_routes(client, prepared, method, path, body, allowed) -> None:
    for role in ROLES:
        headers = bearer(prepared[role])
        answer = client.request(method, path, json=body, headers=headers, follow_redirects=False)
        if role in allowed:
            assert answer.status_code not in (401, 403), (role, answer.status_code, answer.text)
            assert answer.status_code < 500, (role, answer.text)
        else:
            assert answer.status_code == 403, (role, answer.status_code, answer.text)


@pytest.mark.parametrize(("method", "path", "body", "allowed"), MATRIX, ids=IDS)
def test_without_credentials_every_route_is_refused(client, method, path, body, allowed) -> None:
    answer = client.request(method, path, json=body, follow_redirects=False)
    assert answer.status_code in (401, 303), answer.status_code
    if path.startswith("/api/"):
        assert answer.status_code == 401
        assert answer.json()["error"] == "unauthorized"


def test_a_browser_is_sent_to_the_login_page(client) -> None:
    answer = client.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/"


def test_every_route_but_the_public_ones_checks_the_role(app: Litestar) -> None:
    unguarded = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            # OPTIONS (CORS preflight) answers are made by litestar and do nothing.
            if route.path.startswith(PUBLIC_PREFIXES) or set(handler.http_methods) == {"OPTIONS"}:
                continue
            guards = [guard for layer in handler.ownership_layers for guard in layer.guards or []]
            if not any(hasattr(guard, "roles") for guard in guards):
                unguarded.append(route.path)
    assert unguarded == []


def test_the_matrix_covers_every_api_route(app: Litestar) -> None:
    covered = {(m, p.split("?")[0]) for m, p, _, _ in MATRIX}
    concrete = {
        "{flow_id:str}": "welcome", "{run_id:int}": "1", "{member_id:str}": "m-1", "{token_id:int}": "999",
        "{name:str}": "nobody-here", "{group_id:str}": "g-1", "{item_id:str}": "c-1", "{staff_id:str}": "s-1",
        "{delivery_id:int}": "1", "{task_id:int}": "1", "{channel_id:str}": "qr-1", "{node_id:str}": "joined",
    }  # fmt: skip
    missing = []
    for route in app.routes:
        if not route.path.startswith("/api/"):
            continue
        path = route.path
        for placeholder, value in concrete.items():
            path = path.replace(placeholder, value)
        for method in getattr(route, "methods", ()):
            if method not in ("HEAD", "OPTIONS") and (method, path) not in covered:
                missing.append((method, path))
    assert missing == []


def test_a_viewer_session_cannot_change_anything(client, sign_in) -> None:
    csrf = sign_in("viewer")
    assert client.get("/api/flows").status_code == 200
    answer = client.post("/api/flows", json=welcome_flow(), headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 403
    assert client.get("/api/flows").json() == []


def test_an_operator_session_with_its_csrf_token_can(client, sign_in) -> None:
    csrf = sign_in("operator")
    answer = client.post("/api/flows", json=welcome_flow(), headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200, answer.text
    assert client.get("/api/users").status_code == 403
