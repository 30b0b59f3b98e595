"""In a real Chromium: a preview that reaches its work limit says so in the editor (#13.14)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_kit import chromium, csrf_token, operator_page
from browser_server import chromium_missing, running_server, save_screenshot

from qunflow.editor.api import flows as flows_api
from qunflow.engine.simulate import WorkLimit

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

if chromium_missing() is None:
    from playwright.sync_api import expect

EVERY_MINUTE = {
    "id": "minutely",
    "name": "每分钟",
    "nodes": [
        {
            "id": "tick",
            "type": "trigger.schedule",
            "config": {"cron": "* * * * *"},
            "position": {"x": 80, "y": 80},
        },
        {
            "id": "post",
            "type": "action.send_message",
            "config": {"text": "hi", "to": "group", "group": "g-1"},
            "position": {"x": 380, "y": 80},
        },
    ],
    "edges": [{"from": "tick", "to": "post"}],
}


@pytest.fixture
def base_url(tmp_path, monkeypatch) -> Iterator[str]:
    monkeypatch.setattr(flows_api, "PREVIEW_LIMIT", WorkLimit(moments=15, steps=10_000))
    with running_server(tmp_path / "qunflow.db") as url:
        yield url


def test_a_preview_that_reaches_its_limit_says_where_it_stopped(base_url: str) -> None:
    with chromium() as browser, operator_page(browser, base_url) as page:
        csrf = {"X-CSRF-Token": csrf_token(page)}
        assert page.request.post("/api/flows", data=EVERY_MINUTE, headers=csrf).ok
        page.goto("/flows/minutely")
        expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")
        page.click("#qf-preview")
        page.click("#qf-preview-advanced")  # the JSON, behind its toggle
        page.fill(
            "#qf-preview-events", '{"events": [], "start": "2026-11-22T00:00:00+08:00", "until": "P366D"}'
        )
        page.click("#qf-preview-run")
        expect(page.locator("#qf-status")).to_contain_text("预览提前停止于 2026-11-22 00:1")
        expect(page.locator("#qf-preview-result")).to_contain_text("已达到上限 15 个时间点")
        save_screenshot(page, "editor-preview-truncated")
