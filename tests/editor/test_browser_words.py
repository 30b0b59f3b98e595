"""Words the editor's scripts make, in a real Chromium (issue #15): a comparison's operator is picked
by its words (不少于, not `gte`), in a node's form and in the flow's goal, and stored as its id."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_kit import csrf_token, operator_page
from browser_server import chromium_missing

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

if chromium_missing() is None:
    from playwright.sync_api import Browser, Page, expect

OP_WORDS = ["等于", "不等于", "大于", "不少于", "小于", "不超过", "属于其中之一", "包含", "有值"]
FLOW = {
    "id": "spend",
    "name": "消费分层",
    "settings": {"goal": {"event": "purchase", "where": [{"field": "data.amount", "op": "gte", "value": 50}],
                          "within": "P7D"}},
    "nodes": [
        {"id": "buy", "type": "trigger.purchase", "config": {}, "position": {"x": 40, "y": 120}},
        {"id": "big", "type": "condition.attribute", "label": "满 500？", "position": {"x": 320, "y": 120},
         "config": {"field": "member.total_spend", "op": "gte", "value": 500}},
    ],
    "edges": [{"from": "buy", "to": "big"}],
}  # fmt: skip


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    with operator_page(browser, base_url, console=True) as page:
        yield page


def test_a_comparison_is_picked_by_its_words_and_stored_as_its_id(page: Page) -> None:
    csrf = {"X-CSRF-Token": csrf_token(page)}
    assert page.request.post("/api/flows", data=FLOW, headers=csrf).ok
    page.goto("/flows/spend")
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")

    page.locator('.drawflow-node[data-node-id="big"] .qf-node-title').click()
    op = page.locator('#qf-panel-body .qf-field[data-path="op"] select')
    expect(op.locator("option:checked")).to_have_text("不少于")
    assert sorted(op.locator("option").all_inner_texts()) == sorted(["—", *OP_WORDS])
    op.select_option(label="不超过")

    page.click("#qf-flow-settings")
    goal_op = page.locator('#qf-panel-body .qf-field[data-path="goal.where.0.op"] select')
    expect(goal_op.locator("option:checked")).to_have_text("不少于")
    goal_op.select_option(label="属于其中之一")
    page.click("#qf-save")
    expect(page.locator("#qf-status")).to_have_attribute("data-kind", "ok")

    draft = page.request.get("/api/flows/spend").json()["draft"]
    assert next(n for n in draft["nodes"] if n["id"] == "big")["config"]["op"] == "lte"
    assert draft["settings"]["goal"]["where"][0]["op"] == "in"
