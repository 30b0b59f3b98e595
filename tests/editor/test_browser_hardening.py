"""The editor in a real Chromium with awkward input: webhook body keys any JSON may hold."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from browser_server import CHROMIUM, CHROMIUM_ARGS, OPERATOR, chromium_missing, running_server

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

if chromium_missing() is None:
    from playwright.sync_api import Browser, Page, expect, sync_playwright


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("server") / "qunflow.db") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A signed-in operator's page; fails the test on any script error or console error."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, base_url=base_url, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: _console_error(message, errors))
    page.goto("/login?next=/flows")
    page.fill("input[name=username]", OPERATOR[0])
    page.fill("input[name=password]", OPERATOR[1])
    page.press("input[name=password]", "Enter")
    page.wait_for_url("**/flows")
    yield page
    context.close()
    assert not errors, f"errors in the page: {errors}"


def _console_error(message: Any, errors: list[str]) -> None:
    # The browser's own favicon request is not the page's doing.
    if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
        errors.append(f"{message.text} ({message.location.get('url')})")


def _csrf(page: Page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "qunflow_csrf")


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
    answer = page.request.post("/api/flows", data=flow, headers={"X-CSRF-Token": _csrf(page)})
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
