"""What the editor foresees, in a real Chromium, on a server whose clock stands at 2026-09-30 18:00 in
Shanghai (the National Day eve): the next three moments a wait would pick (DESIGN §18), and the
backtest shown before publishing (DESIGN §17)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from browser_kit import chromium, csrf_token, operator_page
from browser_server import chromium_missing, running_server

from qunflow.engine import SimClock

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

if chromium_missing() is None:
    from playwright.sync_api import Page, expect

EVE = datetime(2026, 9, 30, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
FLOW = {
    "id": "morning",
    "name": "工作日早安",
    "nodes": [
        {"id": "joined", "type": "trigger.member_joined", "config": {}},
        {"id": "nine", "type": "wait.until_time", "config": {"time": "09:00", "on": "workday"}},
        {"id": "hello", "type": "action.send_message", "config": {"text": "早安"}},
    ],
    "edges": [{"from": "joined", "to": "nine"}, {"from": "nine", "to": "hello"}],
}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("server") / "qunflow.db", clock=SimClock(EVE)) as url:
        yield url


@pytest.fixture
def page(base_url: str) -> Iterator[Page]:
    with chromium() as browser, operator_page(browser, base_url, console=True) as page:
        yield page


def test_the_panel_of_a_working_day_wait_shows_its_next_three_moments(page: Page) -> None:
    assert page.request.post("/api/flows", data=FLOW, headers={"X-CSRF-Token": csrf_token(page)}).ok
    page.goto("/flows/morning")
    page.locator('.drawflow-node[data-node-id="nine"] .qf-node-title').click()
    moments = page.locator("#qf-moments")
    expect(moments).to_have_text(
        "接下来：10月8日（周四）09:00、10月9日（周五）09:00、10月10日（周六，调休上班）09:00"
    )
    # Changing the time asks again.
    time_input = page.locator('#qf-panel-body .qf-field[data-path="time"] input')
    time_input.fill("10:30")
    time_input.press("Tab")
    expect(moments).to_contain_text("10月8日（周四）10:30")
    # A node that picks no moment of the clock has no such line.
    page.locator('.drawflow-node[data-node-id="hello"] .qf-node-title').click()
    expect(page.locator("#qf-node-id")).to_have_value("hello")
    expect(page.locator("#qf-moments")).to_have_count(0)


def test_publishing_shows_the_backtest_first_and_cancelling_publishes_nothing(page: Page) -> None:
    csrf = {"X-CSRF-Token": csrf_token(page)}
    flow = {**FLOW, "id": "forecast"}
    assert page.request.post("/api/flows", data=flow, headers=csrf).ok
    events = [
        {
            "id": f"f-{i}",
            "type": "member_joined",
            "member": f"m-{i}",
            "group": "g-1",
            "at": f"2026-09-2{i}T10:00:00+08:00",
        }  # fmt: skip
        for i in (1, 2, 4)
    ]
    assert page.request.post("/api/events", data=events, headers=csrf).ok
    page.goto("/flows/forecast")
    page.click("#qf-publish")
    summary = page.locator("#qf-forecast-summary")
    expect(summary).to_have_text("按过去 30 天的事件回测：将有 3 人进入，发送 3 条消息（共 3 项触达）。")
    # 09-21 (Mon) and 09-22 (Tue) at 10:00 wait for the next working day's 09:00; 09-24 (Thu) too.
    rows = page.locator(".qf-forecast-days tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_have_text("9月22日1消息 1")
    page.click("#qf-forecast-cancel")
    expect(page.locator("#qf-status")).to_have_text("未发布")
    assert page.request.get("/api/flows/forecast").json()["live_version"] is None

    page.click("#qf-publish")
    expect(summary).to_contain_text("将有 3 人进入")
    page.click("#qf-forecast-publish")
    expect(page.locator("#qf-status")).to_contain_text("已发布版本 1")
    assert page.request.get("/api/flows/forecast").json()["live_version"] == 1
