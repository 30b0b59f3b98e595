"""The canvas in a real Chromium, at 1400×900 and at 800×900: auto-layout (one undo step), the
minimap, members and conversion on each connection, and the figures of the version being viewed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_kit import csrf_token, operator_page
from browser_server import chromium_missing, save_screenshot

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

if chromium_missing() is None:
    from playwright.sync_api import Browser, Page, expect

WIDE = {"width": 1400, "height": 900}
NARROW = {"width": 800, "height": 900}
JOINED_AT = "2026-11-22T10:00:00+08:00"


@pytest.fixture(params=[WIDE, NARROW], ids=["1400", "800"])
def page(request: pytest.FixtureRequest, browser: Browser, base_url: str) -> Iterator[Page]:
    with operator_page(browser, base_url, console=True) as page:
        page.set_viewport_size(request.param)
        yield page


def node(page: Page, node_id: str) -> Any:
    return page.locator(f'.drawflow-node[data-node-id="{node_id}"]')


def canvas_spot(page: Page, node_id: str) -> tuple[float, float]:
    """Where a node stands on the canvas (its canvas coordinates, whatever the zoom and scroll)."""
    left, top = node(page, node_id).evaluate("n => [n.style.left, n.style.top]")
    return float(left.removesuffix("px")), float(top.removesuffix("px"))


def narrow(page: Page) -> bool:
    return page.viewport_size["width"] < 900


def open_flow(page: Page, flow_id: str) -> None:
    page.goto(f"/flows/{flow_id}")
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")


def post(page: Page, path: str, body: Any = None) -> Any:
    answer = page.request.post(path, data=body, headers={"X-CSRF-Token": csrf_token(page)})
    assert answer.ok, answer.text()
    return answer


def branching_flow(flow_id: str, **extra: Any) -> dict[str, Any]:
    """joined → in the group? → yes: wait a day / no: coupon; the nodes piled up on one diagonal."""
    ids = [("joined", "trigger.member_joined", {}), ("member", "condition.in_group", {"groups": ["g-1"]})]
    ids += [("wait", "wait.delay", {"duration": "P1D"}), ("coupon", "action.send_coupon", {"coupon": "c-1"})]
    return {
        "id": flow_id,
        "name": flow_id,
        "nodes": [
            {"id": i, "type": t, "config": c, "position": {"x": 40 + 30 * n, "y": 300 - 60 * n}}
            for n, (i, t, c) in enumerate(ids)
        ],
        "edges": [
            {"from": "joined", "to": "member"},
            {"from": "member", "port": "true", "to": "wait"},
            {"from": "member", "port": "false", "to": "coupon"},
        ],
        **extra,
    }


def join(page: Page, members: list[str], at: str = JOINED_AT) -> None:
    events = [
        {"id": f"j-{m}", "type": "member_joined", "member": m, "group": "g-1", "at": at} for m in members
    ]
    post(page, "/api/events", events)


def test_auto_layout_puts_nodes_in_columns_in_one_undo_step(page: Page) -> None:
    flow_id = f"piled-{page.viewport_size['width']}"
    post(page, "/api/flows", branching_flow(flow_id))
    open_flow(page, flow_id)
    before = {n: canvas_spot(page, n) for n in ("joined", "member", "wait", "coupon")}

    page.click("#qf-auto-layout")
    expect(page.locator("#qf-status")).to_contain_text("已按列排列节点")
    after = {n: canvas_spot(page, n) for n in before}
    assert after["joined"][0] < after["member"][0] < after["wait"][0]
    assert after["wait"][0] == after["coupon"][0], "yes and no branches share a column"
    assert after["wait"][1] < after["coupon"][1], "the yes branch above the no branch"
    expect(page.locator("#qf-dirty")).to_be_visible()
    expect(page.locator("#drawflow .connection")).to_have_count(3)
    if not narrow(page):  # the view is fitted to the result: every node is on screen
        assert all(_on_screen(page, name) for name in before)
    save_screenshot(page, f"editor-auto-layout-{page.viewport_size['width']}")

    page.locator("#drawflow").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+z")
    expect(page.locator("#qf-status")).to_contain_text("已撤销")
    assert {n: canvas_spot(page, n) for n in before} == before
    page.keyboard.press("Control+Shift+z")
    assert {n: canvas_spot(page, n) for n in before} == after


def test_the_minimap_shows_the_flow_and_moves_the_view(page: Page) -> None:
    flow_id = f"mapped-{page.viewport_size['width']}"
    wide = branching_flow(flow_id)
    wide["nodes"][3]["position"] = {"x": 2400, "y": 900}  # far off to the right and below
    post(page, "/api/flows", wide)
    open_flow(page, flow_id)
    minimap = page.locator("#qf-minimap")
    if narrow(page):
        expect(minimap).to_be_hidden()
        return
    expect(minimap).to_be_visible()
    expect(minimap.locator(".qf-minimap-node")).to_have_count(4)
    expect(minimap.locator(".qf-minimap-viewport")).to_have_count(1)
    assert not _on_screen(page, "coupon")

    # A click on the far node's spot in the minimap brings it into view.
    spot = minimap.locator('.qf-minimap-node[data-node-id="coupon"]').bounding_box()
    page.mouse.click(spot["x"] + spot["width"] / 2, spot["y"] + spot["height"] / 2)
    assert _on_screen(page, "coupon")
    assert not _on_screen(page, "joined")
    expect(page.locator("#qf-zoom-reset")).to_be_visible()

    # Dragging on it moves the view along.
    before = node(page, "coupon").bounding_box()
    view = minimap.locator(".qf-minimap-viewport").bounding_box()
    page.mouse.move(view["x"] + view["width"] / 2, view["y"] + view["height"] / 2)
    page.mouse.down()
    page.mouse.move(view["x"] + view["width"] / 2 - 30, view["y"] + view["height"] / 2 - 20, steps=5)
    page.mouse.up()
    after = node(page, "coupon").bounding_box()
    assert after["x"] > before["x"] and after["y"] > before["y"], "the view moved left and up"
    expect(page.locator(".drawflow-node.qf-selected")).to_have_count(0)  # no node was clicked

    # The browser scrolling the canvas (to show a focused node at its edge) moves neither the
    # minimap out of its corner nor the view: the canvas pans only by drawflow's transform.
    before = node(page, "coupon").bounding_box()
    page.evaluate(
        "() => { const c = document.getElementById('drawflow'); c.scrollLeft = 300; c.scrollTop = 200; }"
    )
    expect(page.locator("#drawflow")).to_have_js_property("scrollLeft", 0)
    canvas, corner = page.locator("#drawflow").bounding_box(), minimap.bounding_box()
    assert abs(canvas["x"] + canvas["width"] - (corner["x"] + corner["width"])) < 20
    assert abs(canvas["y"] + canvas["height"] - (corner["y"] + corner["height"])) < 20
    assert node(page, "coupon").bounding_box() == before

    # The minimap folds away and stays folded.
    page.click("#qf-minimap-toggle")
    expect(minimap.locator("svg")).to_be_hidden()
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")
    expect(page.locator("#qf-minimap svg")).to_be_hidden()
    page.click("#qf-minimap-toggle")
    expect(page.locator("#qf-minimap svg")).to_be_visible()


def _on_screen(page: Page, node_id: str) -> bool:
    box = node(page, node_id).bounding_box()
    canvas = page.locator("#drawflow").bounding_box()
    return (
        box is not None
        and canvas["x"] <= box["x"] + box["width"] / 2 <= canvas["x"] + canvas["width"]
        and canvas["y"] <= box["y"] + box["height"] / 2 <= canvas["y"] + canvas["height"]
    )


def test_edges_say_how_many_members_went_each_way_on_the_version_viewed(page: Page) -> None:
    flow_id = f"counted-{page.viewport_size['width']}"
    goal = {"goal": {"event": "purchase", "within": "P7D"}}
    post(page, "/api/flows", branching_flow(flow_id, settings=goal))
    post(page, f"/api/flows/{flow_id}/publish")
    prefix = flow_id[-3:]
    join(page, [f"{prefix}-a{i}" for i in range(3)])
    buy = {
        "id": f"{prefix}-buy",
        "type": "purchase",
        "member": f"{prefix}-a0",
        "at": "2026-11-22T11:00:00+08:00",
    }
    post(page, "/api/events", buy)
    open_flow(page, flow_id)
    if narrow(page):  # as an operator would at 800 px: the side panels fold away (and stay folded)
        page.click("#qf-toggle-palette")
        page.click("#qf-toggle-panel")
    page.click("#qf-auto-layout")
    expect(page.locator("#qf-status")).to_contain_text("已按列排列节点")
    expect(page.locator(".qf-edge-label")).to_have_count(0)

    page.click("#qf-live")
    # The condition is the second node drawn: its outputs are `yes` (1) and `no` (2).
    yes = page.locator("#drawflow svg.connection.node_out_node-2.output_1 .qf-edge-label")
    no = page.locator("#drawflow svg.connection.node_out_node-2.output_2 .qf-edge-label")
    expect(yes).to_have_text("是 3 · 转化 33.3%")
    expect(no).to_have_text("否 0")
    joined_edge = page.locator("#drawflow svg.connection.node_out_node-1 .qf-edge-label")
    expect(joined_edge).to_have_text("3 · 转化 33.3%")
    save_screenshot(page, f"editor-edge-counts-{page.viewport_size['width']}")
    # At 80% the label is still as large as 11 px text.
    page.click("#qf-zoom-reset")
    for _ in range(2):
        page.click("#qf-zoom-out")
    expect(page.locator("#qf-zoom-reset")).to_have_text("80%")
    assert yes.bounding_box()["height"] >= 11

    # The label keeps to its connection when the node moves.
    before = yes.bounding_box()
    title = node(page, "wait").locator(".qf-node-title")
    box = title.bounding_box()
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + 5, box["y"] + 125, steps=6)
    page.mouse.up()
    page.wait_for_function(
        "y => document.querySelector('#drawflow svg.connection.node_out_node-2.output_1 .qf-edge-label')"
        ".getBoundingClientRect().y > y + 30",
        arg=before["y"],
    )

    # Version 2 goes live; two members join it. The canvas shows version 2's figures, with the split.
    post(page, "/api/flows", branching_flow(flow_id, settings=goal))
    post(page, f"/api/flows/{flow_id}/publish")
    join(page, [f"{prefix}-b{i}" for i in range(2)], at="2026-11-22T12:00:00+08:00")
    open_flow(page, flow_id)
    page.click("#qf-live")
    expect(node(page, "joined").locator(".qf-count")).to_have_text("进入 2 · 等待 0 · 转化 0.0%")
    expect(node(page, "joined").locator(".qf-count-split")).to_have_text("v2 2 · v1 3")
    expect(node(page, "joined").locator(".qf-count")).to_have_attribute(
        "title", "2 人进入，0 人正在这里等待\n各版本进入人数：v2 2 · v1 3"
    )
    expect(yes).to_have_text("是 2 · 转化 0.0%")
    picker = page.locator("#qf-live-version")
    expect(picker).to_be_visible()
    expect(picker).to_have_value("2")
    picker.select_option("1")
    expect(node(page, "joined").locator(".qf-count")).to_contain_text("进入 3")
    expect(yes).to_have_text("是 3 · 转化 33.3%")
    picker.select_option("all")
    expect(node(page, "joined").locator(".qf-count")).to_contain_text("进入 5")
    page.click("#qf-live")  # off: the counts leave the edges
    expect(page.locator(".qf-edge-label")).to_have_count(0)
    expect(picker).to_be_hidden()
