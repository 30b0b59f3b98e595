"""The editor in a real Chromium with awkward input: webhook body keys any JSON may hold."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_kit import csrf_token, operator_page, sign_in
from browser_server import chromium_missing, running_server

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

if chromium_missing() is None:
    from playwright.sync_api import Browser, Page, expect


DATABASE: dict[str, Path] = {}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("server") / "qunflow.db"
    with running_server(database) as url:
        DATABASE[url] = database
        yield url


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A signed-in operator's page; fails the test on any script error or console error."""
    with operator_page(browser, base_url, console=True) as page:
        yield page


AWKWARD_BODY: dict[str, Any] = {
    "first name": "{{ member.name }}",
    "a.b": 1,
    "x[y]": {'q"r': 2, "deep key": ["s p", {"#id": True}]},
    "$ref": None,
    "1st": "ok",
    "名字": "{{ member.id }}",
}


def test_webhook_body_keys_of_any_spelling_draw_and_save_unchanged(page: Page) -> None:
    flow = {
        "id": "awkward-keys",
        "name": "awkward keys",
        "nodes": [
            {
                "id": "start",
                "type": "trigger.event",
                "config": {"event": "ping"},
                "position": {"x": 40, "y": 40},
            },
            {
                "id": "hook",
                "type": "action.webhook",
                "config": {"url": "https://crm.example.com/hook", "method": "POST", "body": AWKWARD_BODY},
                "position": {"x": 300, "y": 40},
            },
            {
                "id": "tag",
                "type": "action.add_tag",
                "config": {"tags": ["pinged"]},
                "position": {"x": 560, "y": 40},
            },
            {"id": "done", "type": "action.exit", "config": {}, "position": {"x": 820, "y": 40}},
        ],
        "edges": [
            {"from": "start", "to": "hook"},
            {"from": "hook", "to": "tag"},
            {"from": "tag", "to": "done"},
        ],
    }
    answer = page.request.post("/api/flows", data=flow, headers={"X-CSRF-Token": csrf_token(page)})
    assert answer.ok, answer.text()

    page.goto("/flows/awkward-keys")
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")
    expect(page.locator(".drawflow-node")).to_have_count(4)
    expect(page.locator("#drawflow .connection")).to_have_count(3)

    # Edit something else on the webhook node (its label), then save: the body is kept as it was.
    page.locator('.drawflow-node[data-node-id="hook"] .qf-node-title').click()
    expect(page.locator("#qf-node-id")).to_have_value("hook")
    page.fill("#qf-node-label", "通知 CRM")
    page.click("#qf-save")
    expect(page.locator("#qf-dirty")).to_be_hidden()

    saved = page.request.get("/api/flows/awkward-keys").json()
    [hook] = [n for n in saved["draft"]["nodes"] if n["id"] == "hook"]
    assert hook["label"] == "通知 CRM"
    assert json.dumps(hook["config"]["body"], sort_keys=True) == json.dumps(AWKWARD_BODY, sort_keys=True)
    assert {(e["from"], e["to"]) for e in saved["draft"]["edges"]} == {
        ("start", "hook"),
        ("hook", "tag"),
        ("tag", "done"),
    }


# -- security headers and the Content-Security-Policy (#13.12) ----------------------------------------

RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI} ${where}`);
});
"""


def _visit(page: Page, path: str) -> Any:
    answer = page.goto(path)
    assert answer is not None and answer.ok, (path, answer and answer.status)
    headers = answer.all_headers()
    assert headers["x-frame-options"] == "DENY", path
    assert headers["x-content-type-options"] == "nosniff", path
    assert headers["referrer-policy"] == "same-origin", path
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy, path
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, path
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__violations") == [], path
    return answer


def _admin_page(browser: Browser, base_url: str, database: Path) -> Page:
    from qunflow.editor.services import Services

    services = Services.open(f"sqlite:///{database}")
    try:
        if services.accounts.get_user("boss") is None:
            services.accounts.create_user("boss", "boss password 1", "admin", services.now_us())
            services.accounts.create_user("leaving", "leaving password 1", "viewer", services.now_us())
    finally:
        services.close()
    context = browser.new_context(base_url=base_url, locale="zh-CN")
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    sign_in(page, "/admin", ("boss", "boss password 1"))
    return page


def test_the_main_pages_carry_security_headers_and_break_no_policy(
    page: Page, browser: Browser, base_url: str
) -> None:
    page.context.add_init_script(RECORD_VIOLATIONS)
    csrf = csrf_token(page)
    flow = {
        "id": "csp-check",
        "name": "CSP check",
        "nodes": [
            {"id": "start", "type": "trigger.event", "config": {"event": "ping"}},
            {"id": "tag", "type": "action.add_tag", "config": {"tags": ["pinged"]}},
        ],
        "edges": [{"from": "start", "to": "tag"}],
    }
    assert page.request.post("/api/flows", data=flow, headers={"X-CSRF-Token": csrf}).ok
    assert page.request.post("/api/flows/csp-check/publish", headers={"X-CSRF-Token": csrf}).ok
    ping = {"id": "e-csp", "type": "ping", "member": "m-csp", "at": "2026-11-22T10:00:00+08:00"}
    assert page.request.post("/api/events", data=ping, headers={"X-CSRF-Token": csrf}).ok

    for path in ("/flows", "/runs", "/flows/csp-check/history", "/members/m-csp"):
        _visit(page, path)

    # The editor draws, validates and previews under the policy.
    _visit(page, "/flows/csp-check")
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")
    expect(page.locator(".drawflow-node")).to_have_count(2)
    expect(page.locator("#drawflow .connection")).to_have_count(1)
    page.click("#qf-validate")
    page.click("#qf-preview")
    page.click("#qf-preview-run")
    expect(page.locator("#qf-preview-result")).not_to_be_empty()
    # htmx works: pausing the flow from the list swaps its row.
    _visit(page, "/flows")
    page.locator("#flow-csp-check").get_by_role("button", name="暂停").click()
    expect(page.locator("#flow-csp-check")).to_contain_text("已暂停")
    assert page.evaluate("window.__violations") == []


def test_the_login_page_works_under_the_policy(browser: Browser, base_url: str) -> None:
    context = browser.new_context(base_url=base_url, locale="zh-CN")
    context.add_init_script(RECORD_VIOLATIONS)
    login = context.new_page()
    _visit(login, "/login")
    assert (
        login.locator(".qf-login").evaluate("e => getComputedStyle(e).maxWidth") != "none"
    )  # base.css applies
    context.close()


def test_removing_a_user_asks_first_without_an_inline_handler(browser: Browser, base_url: str) -> None:
    page = _admin_page(browser, base_url, DATABASE[base_url])
    _visit(page, "/admin")
    row = page.locator("#qf-users tr", has_text="leaving")
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name="移除").click()
    expect(page.locator("#qf-users")).to_contain_text("leaving")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="移除").click()
    expect(page.locator("#qf-users")).not_to_contain_text("leaving")
    assert page.evaluate("window.__violations") == []
    page.context.close()
