"""`/admin`: the accounts page. Admins only; new passwords and tokens are shown once."""

from __future__ import annotations

import re

from api_helpers import PASSWORD, bearer, joined

from qunflow.editor.services import Services


def csrf_of(page: str) -> str:
    match = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert match
    return match.group(1)


def secret_of(page: str) -> str:
    match = re.search(r'<code id="qf-secret">([^<]+)</code>', page)
    assert match, "no secret shown"
    return match.group(1)


def test_only_admins_see_the_accounts_page(client, sign_in) -> None:
    sign_in("operator")
    assert "/admin" not in client.get("/flows").text
    assert client.get("/admin").status_code == 403
    sign_in("admin")
    page = client.get("/admin")
    assert page.status_code == 200 and "账号" in page.text
    assert 'href="/admin"' in client.get("/flows").text
    assert "operator-user" in page.text and "admin-user" in page.text


def test_an_admin_makes_a_user_gives_a_new_password_and_removes_them(
    client, sign_in, services: Services
) -> None:
    sign_in("admin")
    csrf = csrf_of(client.get("/admin").text)
    made = client.post(
        "/admin/users",
        data={"name": "小王", "role": "operator", "password": PASSWORD, "_csrf": csrf},
        follow_redirects=False,
    )
    assert made.status_code == 303 and made.headers["location"] == "/admin"
    assert services.accounts.get_user("小王").role == "operator"

    renewed = client.post("/admin/users/%E5%B0%8F%E7%8E%8B/password", data={"_csrf": csrf})
    assert renewed.status_code == 200 and "小王 的新密码" in renewed.text
    password = secret_of(renewed.text)
    assert services.accounts.authenticate("小王", password) is not None
    assert password not in client.get("/admin").text  # shown once

    removed = client.post(
        "/admin/users/%E5%B0%8F%E7%8E%8B/delete", data={"_csrf": csrf}, follow_redirects=False
    )
    assert removed.status_code == 303
    assert services.accounts.get_user("小王") is None


def test_a_refused_account_form_says_why_on_a_page(client, sign_in) -> None:
    sign_in("admin")
    csrf = csrf_of(client.get("/admin").text)
    short = client.post(
        "/admin/users",
        data={"name": "x", "role": "viewer", "password": "short", "_csrf": csrf},
        headers={"Accept": "text/html"},
    )
    assert short.status_code == 422 and "password: at least 8 characters" in short.text
    own = client.post("/admin/users/admin-user/delete", data={"_csrf": csrf}, headers={"Accept": "text/html"})
    assert own.status_code == 409 and "your own account" in own.text
    stale = client.post("/admin/users", data={"name": "y", "password": PASSWORD, "_csrf": "stale"})
    assert stale.status_code == 403


def test_a_token_made_on_the_page_is_shown_once_works_and_can_be_revoked(client, sign_in) -> None:
    sign_in("admin")
    csrf = csrf_of(client.get("/admin").text)
    made = client.post("/admin/tokens", data={"role": "ingest", "label": "CRM", "_csrf": csrf})
    assert made.status_code == 200 and "新令牌（CRM）" in made.text
    token = secret_of(made.text)
    assert client.post("/api/events", json=joined("e-1", "m-1"), headers=bearer(token)).status_code == 202
    listed = client.get("/admin").text
    assert token not in listed
    token_id = re.search(r'<tr id="token-(\d+)">\s*<td>\d+</td><td>事件接入</td><td>CRM</td>', listed)
    assert token_id
    revoked = client.post(
        f"/admin/tokens/{token_id.group(1)}/revoke", data={"_csrf": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert client.post("/api/events", json=joined("e-2", "m-1"), headers=bearer(token)).status_code == 401


def test_an_admin_cannot_remove_their_own_account_by_any_route(client, sign_in, services: Services) -> None:
    # Another admin exists, so only the "not oneself" rule can refuse.
    services.accounts.create_user("second-admin", PASSWORD, "admin", services.now_us())
    csrf = sign_in("admin")
    page_csrf = csrf_of(client.get("/admin").text)

    by_form = client.post("/admin/users/admin-user/delete", data={"_csrf": page_csrf})
    assert by_form.status_code == 409 and "your own account" in by_form.text
    by_api = client.delete("/api/users/admin-user", headers={"X-CSRF-Token": csrf})
    assert by_api.status_code == 409 and "your own account" in by_api.text
    assert services.accounts.get_user("admin-user") is not None
    assert client.get("/admin").status_code == 200  # still signed in

    # Another admin may remove it (through a token here).
    _, token = services.accounts.create_token("admin", services.now_us(), "ops")
    assert client.delete("/api/users/admin-user", headers=bearer(token)).status_code == 204
    assert services.accounts.get_user("admin-user") is None


def test_the_last_admin_cannot_be_removed(client, services: Services) -> None:
    services.accounts.create_user("only-admin", PASSWORD, "admin", services.now_us())
    _, token = services.accounts.create_token("admin", services.now_us(), "ops")

    last = client.delete("/api/users/only-admin", headers=bearer(token))
    assert last.status_code == 409 and "last admin" in last.text
