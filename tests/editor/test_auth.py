"""Signing in and out, sessions, API tokens, the first admin, and `qunflow token create`."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from api_helpers import PASSWORD, bearer, joined, login_csrf
from sqlalchemy import select

from qunflow.editor.accounts import Accounts
from qunflow.editor.auth import SESSION_COOKIE
from qunflow.editor.cli import main
from qunflow.editor.services import Services
from qunflow.engine.errors import UserError
from qunflow.engine.store import Store
from qunflow.engine.store import schema as t


def set_cookie_headers(answer) -> list[str]:
    return answer.headers.get_list("set-cookie")


def test_the_login_page_speaks_chinese_first(client) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text
    assert "登录" in page.text and "Sign in" in page.text


def test_signing_in_gives_a_signed_httponly_samesite_session(client, services: Services) -> None:
    services.accounts.create_user("lin", PASSWORD, "operator", services.now_us())
    page = client.get("/login?next=/api/flows")
    answer = client.post(
        "/login",
        data={"username": "lin", "password": PASSWORD, "_csrf": login_csrf(page.text), "next": "/api/flows"},
        follow_redirects=False,
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/api/flows")
    session = next(c for c in set_cookie_headers(answer) if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in session and "SameSite=lax" in session.replace("Lax", "lax")
    assert client.get("/api/flows").status_code == 200


@pytest.mark.parametrize(("name", "password"), [("lin", "wrong password"), ("nobody", PASSWORD)])
def test_a_wrong_name_or_password_gets_no_session(client, services: Services, name, password) -> None:
    services.accounts.create_user("lin", PASSWORD, "operator", services.now_us())
    page = client.get("/login")
    answer = client.post(
        "/login", data={"username": name, "password": password, "_csrf": login_csrf(page.text)},
        follow_redirects=False,
    )  # fmt: skip
    assert answer.status_code == 401
    assert "用户名或密码不正确" in answer.text
    assert not any(c.startswith(SESSION_COOKIE + "=") for c in set_cookie_headers(answer))
    assert client.get("/api/flows").status_code == 401


def test_the_login_form_needs_its_csrf_token(client, services: Services) -> None:
    services.accounts.create_user("lin", PASSWORD, "operator", services.now_us())
    client.get("/login")
    answer = client.post("/login", data={"username": "lin", "password": PASSWORD, "_csrf": "forged"})
    assert answer.status_code == 403
    assert client.get("/api/flows").status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_site(client, services: Services, target) -> None:
    services.accounts.create_user("lin", PASSWORD, "viewer", services.now_us())
    page = client.get("/login")
    form = {"username": "lin", "password": PASSWORD, "_csrf": login_csrf(page.text), "next": target}
    answer = client.post("/login", data=form, follow_redirects=False)
    assert answer.headers["location"] == "/"


def test_signing_out_ends_the_session_on_the_server(client, sign_in) -> None:
    csrf = sign_in("viewer")
    stolen = client.cookies[SESSION_COOKIE]
    answer = client.post("/logout", data={"_csrf": csrf}, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, stolen)
    assert client.get("/api/flows").status_code == 401


def test_a_tampered_session_cookie_is_refused(client, sign_in) -> None:
    sign_in("admin")
    session_id, _, signature = client.cookies[SESSION_COOKIE].rpartition(".")
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, f"{session_id}x.{signature}")
    assert client.get("/api/flows").status_code == 401


@pytest.mark.parametrize(
    "header", ["Bearer qf_not-a-token", "Bearer ", "Basic YWRtaW46YWRtaW4=", "Bearer x" * 500]
)
def test_bad_credentials_are_401(client, header) -> None:
    assert client.get("/api/flows", headers={"Authorization": header}).status_code == 401


def test_tokens_are_stored_as_digests_and_can_be_revoked(client, services: Services, tokens) -> None:
    with services.store.engine.connect() as conn:
        rows = [tuple(map(str, row)) for row in conn.execute(select(t.api_tokens))]
    assert rows and not any(token in value for row in rows for value in row for token in tokens.values())
    listed = client.get("/api/tokens", headers=bearer(tokens["admin"])).json()
    assert sorted(item["role"] for item in listed) == ["admin", "ingest", "operator", "viewer"]
    ingest_id = next(item["id"] for item in listed if item["role"] == "ingest")
    assert client.delete(f"/api/tokens/{ingest_id}", headers=bearer(tokens["admin"])).status_code == 204
    assert (
        client.post("/api/events", json=joined("e-1", "m-1"), headers=bearer(tokens["ingest"])).status_code
        == 401
    )


def test_a_token_made_over_the_api_is_shown_once_and_works(client, tokens) -> None:
    made = client.post(
        "/api/tokens", json={"role": "ingest", "label": "crm"}, headers=bearer(tokens["admin"])
    )
    assert made.status_code == 201
    token = made.json()["token"]
    assert client.post("/api/events", json=joined("e-1", "m-1"), headers=bearer(token)).status_code == 202
    assert token not in client.get("/api/tokens", headers=bearer(tokens["admin"])).text


def test_an_admin_gives_a_new_password_and_the_old_sessions_end(client, sign_in, services, tokens) -> None:
    sign_in("operator")
    assert client.get("/api/flows").status_code == 200
    admin = bearer(tokens["admin"])
    answer = client.post("/api/users/operator-user/password", json={"password": "a new one 2"}, headers=admin)
    assert answer.status_code == 204
    assert client.get("/api/flows").status_code == 401  # signed out
    assert services.accounts.authenticate("operator-user", PASSWORD) is None
    assert services.accounts.authenticate("operator-user", "a new one 2") is not None
    short = client.post("/api/users/operator-user/password", json={"password": "short"}, headers=admin)
    assert short.status_code == 422 and "password" in short.json()["message"]
    assert (
        client.post("/api/users/nobody/password", json={"password": "long enough"}, headers=admin).status_code
        == 404
    )
    as_operator = bearer(tokens["operator"])
    refused = client.post(
        "/api/users/operator-user/password", json={"password": "long enough"}, headers=as_operator
    )
    assert refused.status_code == 403


def test_removing_a_user_signs_them_out_and_the_last_admin_stays(client, sign_in, services, tokens) -> None:
    sign_in("operator")
    admin = bearer(tokens["admin"])
    assert client.delete("/api/users/operator-user", headers=admin).status_code == 204
    assert client.get("/api/flows").status_code == 401
    assert services.accounts.get_user("operator-user") is None
    assert client.delete("/api/users/operator-user", headers=admin).status_code == 404
    services.accounts.create_user("boss", PASSWORD, "admin", services.now_us())
    services.accounts.create_user("deputy", PASSWORD, "admin", services.now_us())
    assert client.delete("/api/users/deputy", headers=admin).status_code == 204
    last = client.delete("/api/users/boss", headers=admin)
    assert last.status_code == 409 and "last admin" in last.json()["message"]
    assert [u["name"] for u in client.get("/api/users", headers=admin).json()] == ["boss"]


def test_user_password_prints_a_new_one_once(tmp_path, capsys, services: Services) -> None:
    url = f"sqlite:///{tmp_path / 'accounts.db'}"
    store = Store.open(url)
    try:
        Accounts(store).ensure_admin("first password", 1)
    finally:
        store.close()
    assert main(["user", "password", "admin", "--db", url]) == 0
    password = capsys.readouterr().out.split("new password for admin: ")[1].split()[0]
    store = Store.open(url)
    try:
        assert Accounts(store).authenticate("admin", password) is not None
        assert Accounts(store).authenticate("admin", "first password") is None
    finally:
        store.close()
    assert main(["user", "password", "nobody", "--db", url]) == 1
    assert capsys.readouterr().err.strip() == "qunflow user: no user `nobody`"


def test_ingest_is_a_token_role_only(client, services: Services, tokens) -> None:
    with pytest.raises(UserError, match="role"):
        services.accounts.create_user("robot", PASSWORD, "ingest", services.now_us())
    answer = client.post(
        "/api/users",
        json={"name": "robot", "password": PASSWORD, "role": "ingest"},
        headers=bearer(tokens["admin"]),
    )
    assert answer.status_code == 422
    assert "role" in answer.json()["message"]


def test_the_first_start_creates_admin_once(services: Services) -> None:
    password = services.accounts.ensure_admin(None, services.now_us())
    assert password and len(password) >= 12
    assert services.accounts.authenticate("admin", password).role == "admin"
    assert services.accounts.ensure_admin(None, services.now_us()) is None


def test_two_first_starts_at_once_make_one_admin(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two `qunflow serve` starting together on one PostgreSQL database: both find no user, both try
    to make `admin`; one does, the other is told so (it used to fail on the unique name)."""
    from qunflow.editor import accounts

    both_checked = threading.Barrier(2, timeout=20)
    hasher = accounts._hasher

    class HashOnceBothChecked:  # hashing runs inside the transaction, after the check
        def hash(self, password: str) -> str:
            both_checked.wait()
            return hasher.hash(password)

    monkeypatch.setattr(accounts, "_hasher", HashOnceBothChecked())
    stores = [Store.open(pg_url) for _ in range(2)]
    try:
        with ThreadPoolExecutor(2) as pool:
            made = list(pool.map(lambda s: Accounts(s).ensure_admin("same-start-1", 1), stores))
        assert made == [None, None]  # the password came from the environment: nothing to show
        assert [u.name for u in Accounts(stores[0]).users()] == ["admin"]
    finally:
        for store in stores:
            store.close()


def test_the_first_admin_may_take_its_password_from_the_environment(services: Services) -> None:
    assert services.accounts.ensure_admin("from-the-env-1", services.now_us()) is None
    assert services.accounts.authenticate("admin", "from-the-env-1") is not None
    assert services.accounts.authenticate("admin", "something else") is None


def test_token_create_prints_a_working_token(tmp_path, capsys, client, services: Services) -> None:
    assert main(["token", "create", "--role", "viewer", "--db", services.store.url]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("qf_")
    assert client.get("/api/flows", headers=bearer(token)).status_code == 200
    assert client.post("/api/events", json=joined("e-1", "m-1"), headers=bearer(token)).status_code == 403


def test_token_create_refuses_an_unknown_role(capsys, tmp_path) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["token", "create", "--role", "root", "--db", f"sqlite:///{tmp_path / 'q.db'}"])
    assert exit.value.code == 2


def test_many_wrong_passwords_hold_that_name_back_for_a_while(app, client, services: Services) -> None:
    now = [1000.0]
    app.state.login_failures.clock = lambda: now[0]
    for name in ("lin", "ann"):
        services.accounts.create_user(name, PASSWORD, "viewer", services.now_us())

    def attempt(name: str, password: str) -> int:
        form = {"username": name, "password": password, "_csrf": login_csrf(client.get("/login").text)}
        return client.post("/login", data=form, follow_redirects=False).status_code

    assert [attempt("lin", "guess") for _ in range(10)] == [401] * 10
    assert attempt("lin", PASSWORD) == 429
    assert attempt("ann", PASSWORD) == 303
    now[0] += 601
    assert attempt("lin", PASSWORD) == 303
