"""The flow editor in a real Chromium: an operator builds W by hand, saves, reloads, publishes, previews."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import pytest
from browser_kit import csrf_token, operator_page
from browser_server import chromium_missing, publish_to_docs, running_server, save_screenshot
from msgspec import Meta

from qunflow.engine import NEXT, Context, Outcome, TimeOfDay, action, default_registry
from qunflow.flows import load_template

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

if chromium_missing() is None:
    from playwright.sync_api import Browser, Page, expect

W = load_template("welcome-vip")
FLOW_ID = "welcome-built"


class Reminder(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A custom node's config: the editor must build its form from this alone."""

    topic: Annotated[str, Meta(min_length=1, max_length=20)]
    channel: Literal["sms", "wecom"] = "wecom"
    retries: Annotated[int, Meta(ge=0, le=5)] = 2
    urgent: bool = False
    cooldown: timedelta = timedelta(hours=6)
    send_at: TimeOfDay = "09:00"
    segments: Annotated[list[str], Meta(extra_json_schema={"format": "tags"})] = []


@action("acme.reminder", title={"zh": "提醒", "en": "Reminder"}, icon="bell")
def remind(ctx: Context, config: Reminder) -> Outcome:
    return NEXT


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    registry = default_registry().copy()
    registry.add(remind)
    with running_server(tmp_path_factory.mktemp("server") / "qunflow.db", registry) as url:
        yield url


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    with operator_page(browser, base_url) as page:
        yield page


def node(page: Page, node_id: str) -> Any:
    return page.locator(f'.drawflow-node[data-node-id="{node_id}"]')


def field(page: Page, path: str) -> Any:
    return page.locator(f'#qf-panel-body .qf-field[data-path="{path}"]')


def drop(page: Page, type_id: str, x: int, y: int, node_id: str) -> None:
    """Drag a node type from the palette onto the canvas, then give it W's node id."""
    before = page.locator(".drawflow-node").count()
    page.locator(f'.qf-palette-item[data-type="{type_id}"]').drag_to(
        page.locator("#drawflow"), target_position={"x": x, "y": y}
    )
    expect(page.locator(".drawflow-node")).to_have_count(before + 1)
    id_input = page.locator("#qf-node-id")
    id_input.fill(node_id)
    id_input.press("Tab")
    expect(node(page, node_id)).to_be_visible()


def add_tags(page: Page, path: str, *tags: str) -> None:
    tag_input = field(page, path).locator("input.qf-tag-input")
    for tag in tags:
        tag_input.fill(tag)
        tag_input.press("Enter")


def connect(page: Page, source: str, port: int, target: str) -> None:
    """Drag from an output port to the target's input, as an operator does with the mouse."""
    before = page.locator("#drawflow .connection").count()
    node(page, source).locator(f".output_{port}").hover()
    page.mouse.down()
    box = node(page, target).locator(".input_1").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    expect(page.locator("#drawflow .connection")).to_have_count(before + 1)


def select(page: Page, node_id: str) -> None:
    node(page, node_id).locator(".qf-node-title").click()
    expect(page.locator("#qf-node-id")).to_have_value(node_id)


def decoded(node_type: str, config: dict[str, Any]) -> Any:
    return msgspec.convert(config, default_registry().get(node_type).config)


def same_as_w(document: dict[str, Any]) -> None:
    """The saved flow is W: same nodes, types, configs (defaults filled in) and edges."""
    got = {n["id"]: n for n in document["nodes"]}
    assert set(got) == {n["id"] for n in W["nodes"]}
    for expected in W["nodes"]:
        assert got[expected["id"]]["type"] == expected["type"]
        assert decoded(expected["type"], got[expected["id"]]["config"]) == decoded(
            expected["type"], expected["config"]
        ), expected["id"]

    def edges(flow: dict[str, Any]) -> set[tuple[str, str, str]]:
        return {(e["from"], e.get("port", "next"), e["to"]) for e in flow["edges"]}

    assert edges(document) == edges(W)


def build_w(page: Page) -> None:
    page.fill("#qf-new-id", FLOW_ID)
    page.fill("#qf-new-name", W["name"])
    page.click("#qf-new-submit")
    page.wait_for_url(f"**/flows/{FLOW_ID}?**")
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")

    drop(page, "trigger.member_joined", 20, 40, "joined")
    add_tags(page, "group_tags", "fans")
    page.fill("#qf-node-label", "新成员入群")

    drop(page, "action.add_tag", 250, 40, "tag_new")
    add_tags(page, "tags", "new")

    drop(page, "wait.delay", 480, 40, "wait_1d")
    field(page, "duration").locator("input").fill("1")
    field(page, "duration").locator("select").select_option("D")

    drop(page, "action.send_coupon", 20, 230, "coupon")
    field(page, "coupon").locator("input").fill("welcome-10")

    drop(page, "condition.active", 250, 230, "active")
    field(page, "within").locator("input").fill("1")

    drop(page, "action.invite_to_group", 520, 160, "vip")
    add_tags(page, "groups", "vip-1", "vip-2")

    drop(page, "action.send_message", 520, 320, "nudge")
    field(page, "text").locator("textarea").fill("{{ member.name }}，群里今天有新活动哦")

    connect(page, "joined", 1, "tag_new")
    connect(page, "tag_new", 1, "wait_1d")
    connect(page, "wait_1d", 1, "coupon")
    connect(page, "coupon", 1, "active")
    connect(page, "active", 1, "vip")  # port `true`
    # The `false` branch by keyboard: the node's panel offers every other node for each port.
    select(page, "active")
    target = page.locator("#qf-connect-false option", has_text="(nudge)").get_attribute("value")
    page.locator("#qf-connect-false").select_option(target)
    expect(page.locator("#drawflow .connection")).to_have_count(6)


def test_an_operator_builds_w_saves_reloads_publishes_and_previews(page: Page, base_url: str) -> None:
    build_w(page)

    # An invalid config is marked inline, then on its node when the server checks the draft.
    select(page, "vip")
    capacity = field(page, "capacity").locator("input")
    capacity.fill("9999")
    expect(field(page, "capacity").locator(".qf-field-error")).not_to_be_empty()
    page.click("#qf-save")
    expect(node(page, "vip")).to_contain_class("qf-has-problem")
    expect(page.locator("#qf-problems-list")).to_contain_text("vip")
    # Said in the operator's language, not msgspec's `Expected int <= 500`.
    expect(page.locator("#qf-problems-list")).to_contain_text("应为不大于 500 的整数")
    expect(page.locator("#qf-problems-list")).not_to_contain_text("Expected")
    # The unfinished draft is saved on the server, problems and all; publishing would refuse it.
    expect(page.locator("#qf-status")).to_contain_text("草稿已保存，发布前还有 1 个问题要修正")
    save_screenshot(page, "editor-invalid-node")
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")
    expect(page.locator("#qf-restore")).to_be_hidden()  # nothing left only in this browser
    expect(node(page, "vip")).to_contain_class("qf-has-problem")
    expect(page.locator("#qf-problems-list")).to_contain_text("应为不大于 500 的整数")
    # Nothing the operator did was lost: fix it and save.
    expect(page.locator("#drawflow .connection")).to_have_count(6)
    select(page, "vip")
    field(page, "capacity").locator("input").fill("200")
    page.click("#qf-save")
    expect(page.locator("#qf-status")).to_have_text("草稿已保存")
    expect(node(page, "vip")).not_to_contain_class("qf-has-problem")

    # Reload: the same flow comes back from the server.
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")
    expect(page.locator(".drawflow-node")).to_have_count(7)
    expect(page.locator("#drawflow .connection")).to_have_count(6)
    expect(node(page, "joined")).to_contain_text("新成员入群")
    saved = page.request.get(f"/api/flows/{FLOW_ID}").json()
    same_as_w(saved["draft"])

    # Publish, after the forecast (nothing stored yet: nothing would have been sent).
    page.click("#qf-publish")
    expect(page.locator("#qf-forecast-body")).to_contain_text("不会发送任何内容")
    page.click("#qf-forecast-publish")
    expect(page.locator("#qf-status")).to_contain_text("已发布版本 1")
    expect(page.locator("#qf-flow-status")).to_have_text("运行中")

    # Preview: sample members go through the draft; counts appear on the nodes.
    page.click("#qf-preview")
    page.click("#qf-preview-run")
    expect(page.locator("#qf-status")).to_contain_text("预览完成")
    expect(node(page, "joined").locator(".qf-count")).to_have_text("▶ 6")
    expect(node(page, "coupon").locator(".qf-count")).to_have_text("▶ 6")
    vip = int(node(page, "vip").locator(".qf-count").inner_text().removeprefix("▶ "))
    nudge = int(node(page, "nudge").locator(".qf-count").inner_text().removeprefix("▶ "))
    assert vip > 0 and nudge > 0 and vip + nudge == 6
    # The deliveries name the node (its type's title here), never its id.
    expect(page.locator("#qf-preview-result")).to_contain_text("发优惠券")
    publish_to_docs(save_screenshot(page, "editor-preview"))
    # Everything fits a 1366×768 screen: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366


def test_restored_work_is_where_undo_starts(page: Page) -> None:
    """Work left only in this browser (the tab closed before saving) comes back on request, and one
    Ctrl+Z after restoring it undoes the next change, never the restored work itself."""
    page.goto("/flows")
    page.fill("#qf-new-id", "restored")
    page.click("#qf-new-submit")
    page.wait_for_url("**/flows/restored?**")
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")
    drop(page, "trigger.member_joined", 20, 40, "joined")
    drop(page, "action.add_tag", 250, 40, "tagged")
    page.wait_for_timeout(500)  # the backup is written after a pause in typing
    page.reload()  # never saved: the work is in this browser's storage only
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")
    expect(page.locator(".drawflow-node")).to_have_count(0)
    page.click("#qf-restore-yes")
    expect(page.locator(".drawflow-node")).to_have_count(2)
    page.locator("#drawflow").click(position={"x": 600, "y": 400})
    page.keyboard.press("Control+z")
    expect(page.locator(".drawflow-node")).to_have_count(2)  # still there
    drop(page, "wait.delay", 480, 40, "later")
    page.wait_for_timeout(500)
    page.locator("#drawflow").click(position={"x": 600, "y": 400})
    page.keyboard.press("Control+z")
    expect(page.locator(".drawflow-node")).to_have_count(2)
    expect(node(page, "tagged")).to_be_visible()


def test_flows_list_pause_resume_and_history(page: Page) -> None:
    page.goto("/flows")
    row = page.locator(f"#flow-{FLOW_ID}")
    expect(row).to_contain_text("运行中")
    row.get_by_role("button", name="暂停").click()
    expect(page.locator(f"#flow-{FLOW_ID}")).to_contain_text("已暂停")
    page.locator(f"#flow-{FLOW_ID}").get_by_role("button", name="恢复运行").click()
    expect(page.locator(f"#flow-{FLOW_ID}")).to_contain_text("运行中")
    save_screenshot(page, "flows-list")
    page.goto(f"/flows/{FLOW_ID}/history")
    expect(page.locator("#v1")).to_contain_text("第一个发布的版本")


def test_a_refused_htmx_action_says_why(page: Page) -> None:
    page.goto("/flows")
    expect(page.locator("#qf-flash")).to_be_hidden()
    # A page left open past its session's CSRF token: the server refuses the pause, and the page says so.
    page.evaluate("""document.body.setAttribute("hx-headers", '{"X-CSRF-Token": "stale"}')""")
    page.locator(f"#flow-{FLOW_ID}").get_by_role("button", name="暂停").click()
    expect(page.locator("#qf-flash")).to_be_visible()
    expect(page.locator("#qf-flash")).to_contain_text("请刷新页面后重试")
    expect(page.locator(f"#flow-{FLOW_ID}")).to_contain_text("运行中")  # nothing changed


def test_a_flow_without_positions_is_laid_out_and_the_language_switches(page: Page) -> None:
    flow = {
        **W,
        "id": "imported",
        "nodes": [{k: v for k, v in n.items() if k != "position"} for n in W["nodes"]],
    }
    csrf = csrf_token(page)
    answer = page.request.post("/api/flows", data=flow, headers={"X-CSRF-Token": csrf})
    assert answer.ok, answer.text()
    page.goto("/flows/imported")
    expect(page.locator(".drawflow-node")).to_have_count(7)
    expect(page.locator("#drawflow .connection")).to_have_count(6)
    boxes = [page.locator(".drawflow-node").nth(i).bounding_box() for i in range(7)]
    corners = {(round(b["x"]), round(b["y"])) for b in boxes}
    assert len(corners) == 7, "nodes were stacked on each other"
    expect(page.locator("#qf-save")).to_have_text("保存草稿")
    page.click("#qf-lang-en")
    expect(page.locator("#qf-save")).to_have_text("Save draft")
    expect(page.locator(".qf-palette h3").first).to_have_text("Triggers")
    save_screenshot(page, "editor-english")
    page.click("#qf-lang-zh")
    expect(page.locator("#qf-save")).to_have_text("保存草稿")


def test_the_palette_and_forms_work_from_the_keyboard(page: Page) -> None:
    page.goto("/flows/keyboard?name=kb")
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")
    page.locator('.qf-palette-item[data-type="trigger.tag_added"]').focus()
    page.keyboard.press("Enter")
    expect(page.locator(".drawflow-node")).to_have_count(1)
    # The new node's form has the focus; type a tag and go on with Tab.
    page.keyboard.type("vip")
    page.keyboard.press("Enter")
    expect(field(page, "tags").locator(".qf-tag")).to_have_text("vip×")
    page.locator('.qf-palette-item[data-type="action.exit"]').focus()
    page.keyboard.press("Enter")
    expect(page.locator(".drawflow-node")).to_have_count(2)
    # Nodes are reachable by Tab and open their form with Enter.
    node(page, "tag_added").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#qf-node-id")).to_have_value("tag_added")
    page.locator("#qf-connect-next").select_option(index=1)
    expect(page.locator("#drawflow .connection")).to_have_count(1)
    page.keyboard.press("Control+s")
    expect(page.locator("#qf-status")).to_have_text("草稿已保存")
    # Delete a node from the keyboard, then undo it.
    node(page, "exit").focus()
    page.keyboard.press("Delete")
    expect(page.locator(".drawflow-node")).to_have_count(1)
    expect(node(page, "tag_added")).to_have_count(1)
    page.locator("#drawflow").focus()
    page.keyboard.press("Control+z")
    expect(page.locator(".drawflow-node")).to_have_count(2)
    expect(page.locator("#drawflow .connection")).to_have_count(1)
    # Moving a node with the mouse moves it in the saved flow.
    before = node(page, "exit").bounding_box()
    page.mouse.move(before["x"] + 60, before["y"] + 20)
    page.mouse.down()
    page.mouse.move(before["x"] + 60, before["y"] + 180, steps=6)
    page.mouse.up()
    page.keyboard.press("Control+s")
    expect(page.locator("#qf-status")).to_have_text("草稿已保存")
    saved = {n["id"]: n for n in page.request.get("/api/flows/keyboard").json()["draft"]["nodes"]}
    assert saved["exit"]["position"]["y"] >= saved["tag_added"]["position"]["y"] + 150


def test_a_setting_that_names_a_flow_offers_the_flows_there_are(page: Page) -> None:
    page.goto("/flows/picker-target?name=目标流程")
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")
    page.locator('.qf-palette-item[data-type="trigger.tag_added"]').focus()
    page.keyboard.press("Enter")
    page.keyboard.type("vip")
    page.keyboard.press("Enter")
    page.keyboard.press("Control+s")
    expect(page.locator("#qf-status")).to_have_text("草稿已保存")
    page.goto("/flows/picker?name=p")
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")
    page.locator('.qf-palette-item[data-type="action.start_flow"]').focus()
    page.keyboard.press("Enter")
    offered = field(page, "flow").locator('datalist option[value="picker-target"]')
    expect(offered).to_have_attribute("label", "目标流程")
    field(page, "flow").locator("input").fill("picker-target")
    expect(page.locator(".qf-invalid")).to_have_count(0)


def test_optional_settings_groups_say_when_their_starred_fields_are_needed(page: Page) -> None:
    page.goto("/flows/settings-hint?name=s")
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")
    page.locator("#qf-flow-settings").click()
    for group in ("quiet_hours", "frequency_cap"):
        hint = field(page, group).locator(".qf-object > .qf-hint")
        expect(hint).to_have_text("选填：可以整组留空；填写时带 * 的项都要填。")
    # Left empty, the groups are no error.
    expect(page.locator(".qf-invalid")).to_have_count(0)


def test_live_view_shows_who_entered_and_who_waits_on_each_node(page: Page) -> None:
    csrf = {"X-CSRF-Token": csrf_token(page)}
    flow = {
        "id": "live",
        "name": "live",
        "nodes": [
            {"id": "joined", "type": "trigger.member_joined", "config": {}},
            {"id": "wait", "type": "wait.delay", "config": {"duration": "P1D"}},
            {"id": "coupon", "type": "action.send_coupon", "config": {"coupon": "c-1"}},
        ],
        "edges": [{"from": "joined", "to": "wait"}, {"from": "wait", "to": "coupon"}],
    }
    assert page.request.post("/api/flows", data=flow, headers=csrf).ok
    assert page.request.post("/api/flows/live/publish", headers=csrf).ok
    events = [
        {
            "id": f"live-{i}",
            "type": "member_joined",
            "member": f"m-{i}",
            "group": "g-1",
            "at": "2026-11-22T10:00:00+08:00",
        }
        for i in range(3)
    ]
    assert page.request.post("/api/events", data=events, headers=csrf).ok
    page.goto("/flows/live")
    page.click("#qf-live")
    expect(node(page, "joined").locator(".qf-count")).to_have_text("进入 3 · 等待 0")
    expect(node(page, "wait").locator(".qf-count")).to_have_text("进入 3 · 等待 3")
    expect(node(page, "coupon").locator(".qf-count")).to_have_text("进入 0 · 等待 0")
    save_screenshot(page, "editor-live")


def test_a_custom_node_gets_its_form_from_its_config_type(page: Page) -> None:
    page.goto("/flows/custom?name=custom")
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")
    expect(
        page.locator(".qf-palette-group", has_text="动作").locator('[data-type="acme.reminder"]')
    ).to_be_visible()
    drop(page, "trigger.member_joined", 30, 40, "joined")
    drop(page, "acme.reminder", 300, 40, "remind")
    expect(field(page, "channel").locator("select")).to_have_value('"wecom"')
    expect(field(page, "retries").locator("input[type=number]")).to_have_value("2")
    expect(field(page, "urgent").locator("input[type=checkbox]")).not_to_be_checked()
    expect(field(page, "cooldown").locator("input")).to_have_value("6")
    expect(field(page, "cooldown").locator("select")).to_have_value("H")
    expect(field(page, "send_at").locator("input[type=time]")).to_have_value("09:00")
    topic = field(page, "topic").locator("input")
    topic.fill("x" * 21)
    expect(field(page, "topic").locator(".qf-field-error")).to_have_text("最多 20 个字")
    topic.fill("续费提醒")
    expect(field(page, "topic").locator(".qf-field-error")).to_be_empty()
    # Deleting text in a field deletes text, not the selected node.
    select(page, "remind")
    field(page, "topic").locator("input").press("End")
    field(page, "topic").locator("input").press("Delete")
    field(page, "topic").locator("input").press("Backspace")
    expect(node(page, "remind")).to_have_count(1)
    field(page, "topic").locator("input").fill("续费提醒")
    field(page, "retries").locator("input").fill("7")
    expect(field(page, "retries").locator(".qf-field-error")).to_have_text("最多 5")
    field(page, "retries").locator("input").fill("3")
    field(page, "cooldown").locator("input").fill("2")
    field(page, "cooldown").locator("select").select_option("D")
    field(page, "send_at").locator("input").fill("20:30")
    field(page, "urgent").locator("input").check()
    add_tags(page, "segments", "vip", "koc")
    connect(page, "joined", 1, "remind")
    page.click("#qf-save")
    expect(page.locator("#qf-status")).to_have_text("草稿已保存")
    saved = {n["id"]: n for n in page.request.get("/api/flows/custom").json()["draft"]["nodes"]}
    assert msgspec.convert(saved["remind"]["config"], Reminder) == Reminder(
        topic="续费提醒",
        retries=3,
        urgent=True,
        cooldown=timedelta(days=2),
        send_at="20:30",
        segments=["vip", "koc"],
    )
    save_screenshot(page, "editor-custom-node")


def test_screenshots_directory_is_ignored_by_git() -> None:
    ignore = (Path(__file__).resolve().parents[2] / ".gitignore").read_text().split()
    assert "artifacts/" in ignore


def shown_zoom(page: Page) -> int:
    return int(page.locator("#qf-zoom-reset").inner_text().rstrip("%"))


def open_template(page: Page, template: str, flow_id: str) -> None:
    page.goto("/flows")
    page.fill("#qf-new-id", flow_id)
    page.select_option("#qf-new-template", template)
    page.click("#qf-new-submit")
    page.wait_for_url(f"**/flows/{flow_id}")
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")


def test_a_template_opens_readable_and_the_zoom_control_shows_the_zoom(page: Page) -> None:
    """A large template opens at a zoom where its text can be read (panned, not shrunk), and the
    zoom control says the zoom there is."""
    open_template(page, "lifecycle", "zoomed")
    opened = shown_zoom(page)
    assert opened >= 80
    page.click("#qf-zoom-in")
    expect(page.locator("#qf-zoom-reset")).to_have_text(f"{opened + 10}%")
    page.click("#qf-zoom-out")
    page.click("#qf-zoom-out")
    expect(page.locator("#qf-zoom-reset")).to_have_text(f"{opened - 10}%")
    page.locator("#drawflow").hover()
    page.keyboard.down("Control")
    page.mouse.wheel(0, 100)
    page.keyboard.up("Control")
    expect(page.locator("#qf-zoom-reset")).to_have_text(f"{opened - 20}%")
    page.click("#qf-zoom-reset")
    expect(page.locator("#qf-zoom-reset")).to_have_text("100%")
    page.click("#qf-fit")
    expect(page.locator("#qf-zoom-reset")).to_have_text(f"{opened}%")
    # The wheel alone scrolls: the first node moves, the zoom stays.
    before = page.locator(".drawflow-node").first.bounding_box()
    page.locator("#drawflow").hover()
    page.mouse.wheel(0, 120)
    expect(page.locator("#qf-zoom-reset")).to_have_text(f"{opened}%")
    page.wait_for_function(
        "y => document.querySelector('.drawflow-node').getBoundingClientRect().y < y", arg=before["y"] - 50
    )


def test_the_palette_search_keeps_the_matching_node_types(page: Page) -> None:
    page.goto("/flows/searching?name=s")
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")
    items = page.locator(".qf-palette-item:visible")
    everything = items.count()
    search = page.locator("#qf-palette-search")
    search.fill("优惠")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("发优惠券")
    expect(page.locator(".qf-palette h3:visible")).to_have_count(1)
    search.fill("coupon")  # the English title and the type id match too
    expect(items.first).to_contain_text("发优惠券")
    search.fill("trigger.member_joined")
    expect(items).to_have_count(1)
    search.fill("没有这种节点")
    expect(items).to_have_count(0)
    expect(page.locator("#qf-palette-none")).to_be_visible()
    search.press("Escape")
    expect(search).to_have_value("")
    expect(items).to_have_count(everything)
    search.fill("优惠")
    search.press("Enter")  # adds the first match
    expect(page.locator(".drawflow-node")).to_have_count(1)
    expect(page.locator("#qf-node-id")).to_have_value(re.compile("coupon"))


def test_nodes_are_copied_to_another_flow_and_duplicated(page: Page) -> None:
    """Two connected nodes copied in one flow paste into another with their configs, labels and the
    edge between them, under new ids; a paste and a duplicate are each one undo step."""
    open_template(page, "welcome-vip", "copy-from")
    select(page, "nudge")
    page.click("#qf-duplicate-node")
    expect(node(page, "nudge_2")).to_be_visible()
    expect(page.locator("#qf-node-id")).to_have_value("nudge_2")
    expect(field(page, "text").locator("textarea, input").first).to_have_value(
        "{{ member.name }}，群里今天有新活动哦"
    )
    page.locator("#drawflow").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+z")
    expect(node(page, "nudge_2")).to_have_count(0)
    expect(page.locator(".drawflow-node")).to_have_count(7)

    select(page, "coupon")
    node(page, "active").locator(".qf-node-title").click(modifiers=["Shift"])
    page.keyboard.press("Control+c")
    expect(page.locator("#qf-status")).to_contain_text("已复制 2 个节点")

    page.goto("/flows/copy-to?name=to")
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")
    page.locator("#drawflow").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+v")
    expect(page.locator(".drawflow-node")).to_have_count(2)
    expect(page.locator("#drawflow .connection")).to_have_count(1)
    expect(node(page, "coupon")).to_contain_text("发 10 元欢迎券")
    select(page, "coupon")
    expect(field(page, "coupon").locator("input").first).to_have_value("welcome-10")
    page.locator("#drawflow").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+v")  # again: new ids
    expect(page.locator(".drawflow-node")).to_have_count(4)
    expect(node(page, "coupon_2")).to_be_visible()
    expect(node(page, "active_2")).to_be_visible()
    expect(page.locator("#drawflow .connection")).to_have_count(2)
    page.keyboard.press("Control+z")
    expect(page.locator(".drawflow-node")).to_have_count(2)


def test_side_panels_collapse_so_the_canvas_is_usable_at_800_pixels(page: Page) -> None:
    page.set_viewport_size({"width": 800, "height": 900})
    open_template(page, "welcome-vip", "narrow")
    canvas = page.locator("#drawflow")
    page.click("#qf-toggle-palette")
    page.click("#qf-toggle-panel")
    expect(page.locator("#qf-palette")).to_be_hidden()
    expect(page.locator("#qf-side-panel")).to_be_hidden()
    expect(page.locator("#qf-toggle-panel")).to_have_attribute("aria-expanded", "false")
    assert canvas.bounding_box()["width"] >= 600
    node(page, "joined").locator(".qf-node-title").click()  # nodes still answer
    save_screenshot(page, "editor-800-collapsed")
    page.reload()  # the choice is kept
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")
    expect(page.locator("#qf-palette")).to_be_hidden()
    assert canvas.bounding_box()["width"] >= 600
    page.click("#qf-toggle-palette")
    page.click("#qf-toggle-panel")
    expect(page.locator("#qf-palette")).to_be_visible()
    expect(page.locator("#qf-side-panel")).to_be_visible()
    expect(page.locator("#qf-toggle-palette")).to_have_attribute("aria-expanded", "true")
    select(page, "joined")
    assert canvas.bounding_box()["width"] >= 300
    save_screenshot(page, "editor-800")
