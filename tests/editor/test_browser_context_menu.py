"""The canvas's context menu in a real Chromium, at 1400×900 and at 800×900 (issue #15): a right click
on a node duplicates, copies, deletes or opens its test send; on the empty canvas it pastes at the
pointer, arranges or fits; on a connection it deletes it. Drawflow's own "×" never shows. The menu
opens from the keyboard too (Shift+F10, the menu key), moves with the arrow keys, closes with Escape
(focus back on the canvas), on a click elsewhere or the wheel, and stays inside the window. A viewer
gets only the items that read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from browser_kit import csrf_token, operator_page, sign_in
from browser_server import chromium_missing, running_server, save_screenshot

from qunflow.editor.services import Services

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

if chromium_missing() is None:
    from playwright.sync_api import Browser, Page, expect

WIDE = {"width": 1400, "height": 900}
NARROW = {"width": 800, "height": 900}
VIEWER = ("viewer", "viewer password 1")
MENU = "#qf-context-menu"


def care_flow(flow_id: str) -> dict[str, Any]:
    """signup → a message (which can be test-sent) → a tag, one under the other at the canvas's left."""
    return {
        "id": flow_id,
        "name": "新人关怀",
        "nodes": [
            {"id": "start", "type": "trigger.event", "label": "注册", "config": {"event": "signup"},
             "position": {"x": 40, "y": 40}},
            {"id": "hello", "type": "action.send_message", "label": "问候", "position": {"x": 40, "y": 170},
             "config": {"text": "{{ member.name }}，欢迎！"}},
            {"id": "tag", "type": "action.add_tag", "label": "打标签", "position": {"x": 40, "y": 300},
             "config": {"tags": ["cared"]}},
        ],
        "edges": [{"from": "start", "to": "hello"}, {"from": "hello", "to": "tag"}],
    }  # fmt: skip


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("server") / "qunflow.db"
    _add_viewer(database)
    with running_server(database) as url:
        yield url


def _add_viewer(database: Path) -> None:
    services = Services.open(f"sqlite:///{database}")
    try:
        services.store.migrate()
        services.accounts.create_user(*VIEWER, "viewer", services.now_us())
    finally:
        services.close()


@pytest.fixture(params=[WIDE, NARROW], ids=["1400", "800"])
def viewport(request: pytest.FixtureRequest) -> dict[str, int]:
    return request.param


@pytest.fixture
def page(browser: Browser, base_url: str, viewport: dict[str, int]) -> Iterator[Page]:
    with operator_page(browser, base_url, console=True) as page:
        page.set_viewport_size(viewport)
        yield page


@contextmanager
def viewer_page(browser: Browser, base_url: str, viewport: dict[str, int]) -> Iterator[Page]:
    context = browser.new_context(viewport=viewport, base_url=base_url, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, "/flows", VIEWER)
    yield page
    context.close()
    assert not errors, f"errors in the page: {errors}"


def open_flow(page: Page, flow_id: str) -> None:
    """Store the care flow's draft as `flow_id` (through the operator's API) and open it."""
    answer = page.request.post(
        "/api/flows", data=care_flow(flow_id), headers={"X-CSRF-Token": csrf_token(page)}
    )
    assert answer.ok, answer.text()
    show(page, flow_id)


def show(page: Page, flow_id: str) -> None:
    page.goto(f"/flows/{flow_id}")
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")


def flow_id(page: Page, name: str) -> str:
    return f"{name}-{page.viewport_size['width']}"


def node(page: Page, node_id: str) -> Any:
    return page.locator(f'.drawflow-node[data-node-id="{node_id}"]')


def right_click_node(page: Page, node_id: str) -> None:
    node(page, node_id).locator(".qf-node-title").click(button="right")
    expect(page.locator(MENU)).to_be_visible()


def empty_spot(page: Page) -> tuple[float, float]:
    """A point of the canvas, in the window, right of the nodes and clear of the minimap."""
    box = page.locator("#drawflow").bounding_box()
    return box["x"] + box["width"] - 120, box["y"] + 60


def right_click_canvas(page: Page, x: float, y: float) -> None:
    page.mouse.click(x, y, button="right")
    expect(page.locator(MENU)).to_be_visible()


def item_texts(page: Page) -> list[str]:
    return page.locator(f"{MENU} [role=menuitem] .qf-menu-text").all_inner_texts()


def item(page: Page, text: str) -> Any:
    return page.locator(f"{MENU} [role=menuitem]").filter(has=page.get_by_text(text, exact=True))


def connection_middle(page: Page, source_id: str) -> tuple[float, float]:
    """The middle of the line leaving `source_id`'s first port, in the window (where the operator points)."""
    return page.evaluate(
        """nodeId => {
          const source = document.querySelector(`.drawflow-node[data-node-id="${nodeId}"]`);
          const path = document.querySelector(`svg.connection.node_out_${source.id}.output_1 .main-path`);
          const middle = path.getPointAtLength(path.getTotalLength() / 2);
          const spot = new DOMPoint(middle.x, middle.y).matrixTransform(path.getScreenCTM());
          return [spot.x, spot.y];
        }""",
        source_id,
    )


def focused_in(page: Page, selector: str) -> bool:
    return page.evaluate("s => Boolean(document.activeElement?.closest(s))", selector)


def test_a_nodes_menu_duplicates_deletes_and_opens_its_test_send(page: Page) -> None:
    open_flow(page, flow_id(page, "menu-node"))
    nodes = page.locator(".drawflow-node")
    expect(nodes).to_have_count(3)

    right_click_node(page, "hello")
    menu = page.locator(MENU)
    expect(menu).to_have_attribute("role", "menu")
    expect(menu).to_have_attribute("aria-label", "问候 的操作")
    assert item_texts(page) == ["查看详情", "复制", "复制一份", "测试发送", "删除"]
    expect(item(page, "复制一份").locator("kbd")).to_have_text("Ctrl+D")
    expect(item(page, "复制一份")).to_have_attribute("aria-keyshortcuts", "Control+D")
    expect(item(page, "删除").locator("kbd")).to_have_text("Delete")
    expect(page.locator(".drawflow-delete")).to_have_count(0)  # drawflow's own "×" is gone
    save_screenshot(page, f"editor-context-menu-{page.viewport_size['width']}")

    item(page, "复制一份").click()
    expect(menu).to_have_count(0)
    expect(nodes).to_have_count(4)
    expect(node(page, "hello_2")).to_be_visible()
    expect(page.locator("#qf-node-id")).to_have_value("hello_2")
    page.keyboard.press("Control+z")
    expect(nodes).to_have_count(3)
    expect(node(page, "hello_2")).to_have_count(0)

    # A node that sends no message has no test send.
    right_click_node(page, "tag")
    assert item_texts(page) == ["查看详情", "复制", "复制一份", "删除"]
    item(page, "删除").click()
    expect(nodes).to_have_count(2)
    expect(node(page, "tag")).to_have_count(0)
    expect(page.locator("#drawflow")).to_be_focused()

    # 测试发送 opens the node's panel, folded away or not, at its test send control.
    page.click("#qf-toggle-panel")
    expect(page.locator("#qf-side-panel")).to_be_hidden()
    right_click_node(page, "hello")
    item(page, "测试发送").click()
    expect(page.locator("#qf-side-panel")).to_be_visible()
    expect(page.locator("#qf-node-id")).to_have_value("hello")
    expect(page.locator("#qf-test-send")).to_be_in_viewport()
    assert focused_in(page, "#qf-test-send")


def test_copied_nodes_paste_where_the_canvas_was_right_clicked(page: Page) -> None:
    open_flow(page, flow_id(page, "menu-paste"))
    x, y = empty_spot(page)
    right_click_canvas(page, x, y)
    assert item_texts(page) == ["自动排列", "全览"], "nothing copied yet: no paste"
    expect(page.locator(f"{MENU} [role=separator]")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(page.locator(MENU)).to_have_count(0)

    # Two nodes picked together (click, Shift+click) are copied together from either one's menu.
    node(page, "hello").locator(".qf-node-title").click()
    node(page, "tag").locator(".qf-node-title").click(modifiers=["Shift"])
    right_click_node(page, "tag")
    item(page, "复制").click()
    expect(page.locator("#qf-status")).to_contain_text("已复制 2 个节点")

    right_click_canvas(page, x, y)
    assert item_texts(page) == ["粘贴", "自动排列", "全览"]
    expect(item(page, "粘贴").locator("kbd")).to_have_text("Ctrl+V")
    item(page, "粘贴").click()
    expect(page.locator(".drawflow-node")).to_have_count(5)
    expect(page.locator("#drawflow .connection")).to_have_count(3)
    expect(page.locator("#qf-status")).to_contain_text("已粘贴 2 个节点")
    # The copy of the upper node has its top left where the pointer was.
    pasted = node(page, "hello_2").bounding_box()
    assert abs(pasted["x"] - x) < 12 and abs(pasted["y"] - y) < 12, (pasted, x, y)
    expect(node(page, "tag_2")).to_be_visible()
    page.keyboard.press("Control+z")
    expect(page.locator(".drawflow-node")).to_have_count(3)


def test_a_connections_menu_deletes_it(page: Page) -> None:
    open_flow(page, flow_id(page, "menu-edge"))
    connections = page.locator("#drawflow .connection")
    expect(connections).to_have_count(2)
    x, y = connection_middle(page, "hello")
    assert page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y).classList.contains('main-path')", [x, y]
    )
    right_click_canvas(page, x, y)
    expect(page.locator(MENU)).to_have_attribute("aria-label", "连线操作")
    assert item_texts(page) == ["删除连线"]
    expect(item(page, "删除连线").locator("kbd")).to_have_text("Delete")
    expect(page.locator(".drawflow-delete")).to_have_count(0)
    item(page, "删除连线").click()
    expect(connections).to_have_count(1)
    expect(page.locator("#drawflow svg.connection.node_out_node-2")).to_have_count(0)
    expect(page.locator("#drawflow svg.connection.node_out_node-1")).to_have_count(1)
    expect(page.locator("#qf-dirty")).to_be_visible()
    page.keyboard.press("Control+z")
    expect(connections).to_have_count(2)


def test_the_menu_works_from_the_keyboard(page: Page) -> None:
    open_flow(page, flow_id(page, "menu-keys"))
    hello = node(page, "hello")
    hello.focus()
    page.keyboard.press("Shift+F10")
    menu = page.locator(MENU)
    expect(menu).to_be_visible()
    expect(item(page, "查看详情")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(item(page, "复制")).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")  # round to the last
    expect(item(page, "删除")).to_be_focused()
    page.keyboard.press("Home")
    expect(item(page, "查看详情")).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_have_count(0)
    expect(hello).to_be_focused()
    expect(page.locator(".drawflow-node")).to_have_count(3)

    # The menu key opens it as well; Enter runs the item.
    page.keyboard.press("ContextMenu")
    expect(menu).to_be_visible()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(item(page, "复制一份")).to_be_focused()
    page.keyboard.press("Enter")
    expect(menu).to_have_count(0)
    expect(page.locator(".drawflow-node")).to_have_count(4)
    assert focused_in(page, "#drawflow")

    # On the canvas, the selected node's menu; nothing selected, the canvas's.
    page.locator("#drawflow").focus()
    page.keyboard.press("Shift+F10")
    expect(menu).to_have_attribute("aria-label", "问候 的操作")
    page.keyboard.press("Escape")
    expect(page.locator("#drawflow")).to_be_focused()


def test_the_menu_closes_on_a_click_elsewhere_or_the_wheel_and_stays_in_the_window(page: Page) -> None:
    open_flow(page, flow_id(page, "menu-close"))
    menu = page.locator(MENU)
    x, y = empty_spot(page)
    right_click_canvas(page, x, y)
    page.click("#qf-flow-name")
    expect(menu).to_have_count(0)

    right_click_node(page, "hello")
    page.mouse.move(x, y)
    page.mouse.wheel(0, 120)
    expect(menu).to_have_count(0)

    right_click_canvas(page, x, y)
    page.click("#qf-zoom-in")
    expect(menu).to_have_count(0)

    # Right at the canvas's right and bottom edges, the menu opens left of and above the pointer.
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    canvas = page.locator("#drawflow").bounding_box()
    corners = [
        (canvas["x"] + canvas["width"] - 3, canvas["y"] + 8),
        (canvas["x"] + 8, canvas["y"] + canvas["height"] - 3),
    ]
    for cx, cy in corners:
        right_click_canvas(page, cx, cy)
        box = menu.bounding_box()
        assert box["x"] >= 0 and box["y"] >= 0, box
        assert box["x"] + box["width"] <= width and box["y"] + box["height"] <= height, box
        page.keyboard.press("Escape")
        expect(menu).to_have_count(0)


def test_a_viewer_gets_only_the_items_that_read(
    page: Page, browser: Browser, base_url: str, viewport: dict[str, int]
) -> None:
    shown = flow_id(page, "menu-viewer")
    open_flow(page, shown)  # the operator makes the flow
    with viewer_page(browser, base_url, viewport) as viewer:
        show(viewer, shown)
        expect(viewer.locator("#qf-save")).to_have_count(0)
        right_click_node(viewer, "hello")
        assert item_texts(viewer) == ["查看详情"]
        item(viewer, "查看详情").click()
        expect(viewer.locator("#qf-node-id")).to_have_value("hello")

        x, y = connection_middle(viewer, "hello")
        right_click_canvas(viewer, x, y)
        assert item_texts(viewer) == ["全览"]
        viewer.keyboard.press("Escape")

        right_click_canvas(viewer, *empty_spot(viewer))
        assert item_texts(viewer) == ["全览"]
        item(viewer, "全览").click()
        expect(viewer.locator(MENU)).to_have_count(0)
        expect(viewer.locator(".drawflow-node")).to_have_count(3)
        expect(viewer.locator("#drawflow .connection")).to_have_count(2)
