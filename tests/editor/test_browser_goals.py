"""Goal figures on the canvas in a real Chromium (DESIGN §16): the goal and its conversion against the
control group in the flow header, conversion on each node's live badge and beside each output port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_kit import csrf_token, operator_page
from browser_server import chromium_missing, save_screenshot

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

if chromium_missing() is None:
    from playwright.sync_api import Browser, Page, expect


def AT(x: int, y: int) -> dict[str, int]:  # noqa: N802 - reads as a position in the flow below
    return {"x": x, "y": y}


GOAL = {"event": "purchase", "where": [{"field": "data.amount", "op": "gte", "value": 50}], "within": "P7D"}
FLOW = {
    "id": "goals",
    "name": "下单转化",
    "settings": {
        "goal": {
            "event": "purchase",
            "where": [{"field": "data.amount", "op": "gte", "value": 50}],
            "within": "P7D",
        },
        "holdout": 20,
    },
    "nodes": [
        {"id": "joined", "type": "trigger.member_joined", "config": {}, "position": {"x": 40, "y": 120}},
        {
            "id": "ab",
            "type": "condition.split",
            "config": {"branches": [{"port": "a", "percent": 50}, {"port": "b", "percent": 50}]},
            "position": {"x": 300, "y": 120},
        },
        {
            "id": "coupon",
            "type": "action.send_coupon",
            "config": {"coupon": "c-1"},
            "position": {"x": 600, "y": 40},
        },
        {"id": "wait", "type": "wait.delay", "config": {"duration": "P3D"}, "position": AT(600, 220)},
    ],
    "edges": [
        {"from": "joined", "to": "ab"},
        {"from": "ab", "port": "a", "to": "coupon"},
        {"from": "ab", "port": "b", "to": "wait"},
    ],
}


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    with operator_page(browser, base_url, console=True) as page:
        yield page


def node(page: Page, node_id: str) -> Any:
    return page.locator(f'.drawflow-node[data-node-id="{node_id}"]')


DAY = "2026-11-22"


def percent(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def test_the_canvas_shows_the_goal_and_conversion_per_node_and_port(page: Page) -> None:
    csrf = {"X-CSRF-Token": csrf_token(page)}
    assert page.request.post("/api/flows", data=FLOW, headers=csrf).ok
    assert page.request.post("/api/flows/goals/publish", headers=csrf).ok
    members = [f"m-{i:02d}" for i in range(40)]
    joins = [
        {
            "id": f"j-{m}",
            "type": "member_joined",
            "member": m,
            "group": "g-1",
            "at": "2026-11-22T10:00:00+08:00",
        }
        for m in members
    ]
    buys = [
        {
            "id": f"p-{m}",
            "type": "purchase",
            "member": m,
            "at": "2026-11-22T12:00:00+08:00",
            "data": {"amount": 60},
        }
        for m in members[::3]
    ]
    assert page.request.post("/api/events", data=joins, headers=csrf).ok
    assert page.request.post("/api/events", data=buys, headers=csrf).ok
    stats = page.request.get("/api/flows/goals/stats").json()
    goals = stats["goals"]
    assert goals["holdout"]["entered"] > 0 and goals["converted"] > 0

    page.goto("/flows/goals")
    expected = (
        f"目标：下单≥50 元，7 天内 — 转化 {percent(goals['conversion_rate'])}"
        f"（对照组 {percent(goals['holdout']['conversion_rate'])}，提升 {goals['lift']:.1f} 个百分点）"
    )
    expect(page.locator("#qf-goal")).to_have_text(expected)

    page.click("#qf-live")
    joined = stats["nodes"]["joined"]
    expect(node(page, "joined").locator(".qf-count")).to_have_text(
        f"进入 {joined['entered']} · 等待 0 · 转化 {percent(joined['conversion_rate'])}"
    )
    rates = stats["nodes"]["ab"]["port_conversion_rates"]
    for index, port in enumerate(("a", "b"), start=1):
        expect(node(page, "ab").locator(f".output_{index}")).to_have_attribute(
            "data-port-rate", percent(rates[port])
        )
    # The split's A/B sentence is on its badge.
    expect(node(page, "ab").locator(".qf-count")).to_have_attribute("title", _contains(goals["ab"][0]["zh"]))
    save_screenshot(page, "editor-goals")


def _contains(text: str) -> Any:
    import re

    return re.compile(re.escape(text))


def test_the_flow_settings_form_edits_the_goal_and_the_control_group(page: Page) -> None:
    csrf = {"X-CSRF-Token": csrf_token(page)}
    assert page.request.post("/api/flows", data={**FLOW, "id": "settings"}, headers=csrf).ok
    page.goto("/flows/settings")
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")
    page.click("#qf-flow-settings")
    holdout = page.locator('#qf-panel-body .qf-field[data-path="holdout"] input')
    expect(holdout).to_have_value("20")
    holdout.fill("15")
    window = page.locator('#qf-panel-body .qf-field[data-path="goal.event"] input')
    expect(window).to_have_value("purchase")
    page.click("#qf-save")
    expect(page.locator("#qf-status")).to_have_attribute("data-kind", "ok")
    settings = page.request.get("/api/flows/settings").json()["draft"]["settings"]
    assert settings["holdout"] == 15
    assert settings["goal"] == {**GOAL, "exit": True}
