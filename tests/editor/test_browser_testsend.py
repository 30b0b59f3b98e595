"""Test send (测试发送) in a real Chromium (issue #15): in the canvas, an operator opens a message node,
changes its text, finds a member by name, sends the test and reads what happened — recorded, not sent,
while no connector is set up — then follows the link to the delivery, marked as a test on the
deliveries page. At 800 px wide the control still works, for a staff account picked by name."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from browser_kit import chromium, operator_page
from browser_server import chromium_missing, running_server, save_screenshot

from qunflow.editor.services import Services
from qunflow.engine.event import convert_events
from qunflow.engine.member import StaffRecord

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

if chromium_missing() is None:
    from playwright.sync_api import Page, expect

FLOW = {
    "id": "care",
    "name": "新人关怀",
    "nodes": [
        {"id": "start", "type": "trigger.event", "config": {"event": "signup"},
         "position": {"x": 60, "y": 120}},
        {"id": "hello", "type": "action.send_message", "label": "问候", "position": {"x": 340, "y": 120},
         "config": {"text": "{{ member.name }}，欢迎！"}},
        {"id": "tag", "type": "action.add_tag", "label": "打标签", "position": {"x": 620, "y": 120},
         "config": {"tags": ["cared"]}},
    ],
    "edges": [{"from": "start", "to": "hello"}, {"from": "hello", "to": "tag"}],
}  # fmt: skip


def _seed(database: Path) -> None:
    services = Services.open(f"sqlite:///{database}")
    services.store.migrate()
    services.store.put_staff([StaffRecord("s-7", "王小明")])
    services.engine.deploy(FLOW)
    at = datetime.now(UTC).isoformat()
    people = [
        {"id": f"e-{i}", "type": "member_updated", "at": at, "member": member, "profile": {"name": name}}
        for i, (member, name) in enumerate((("m-1", "小林"), ("m-2", "林大海"), ("m-3", "阿强")))
    ]
    services.engine.ingest(convert_events(people))
    services.close()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    database = tmp_path / "qunflow.db"
    _seed(database)
    with running_server(database) as base_url, chromium() as browser:
        with operator_page(browser, base_url, next_path="/flows/care", height=900, console=True) as page:
            yield page


def open_node(page: Page, node_id: str) -> None:
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")
    page.locator(f'.drawflow-node[data-node-id="{node_id}"] .qf-node-title').click()
    expect(page.locator("#qf-node-id")).to_have_value(node_id)


def test_an_operator_test_sends_a_message_to_a_member_found_by_name(page: Page) -> None:
    page.set_viewport_size({"width": 1400, "height": 900})
    open_node(page, "tag")
    expect(page.locator("#qf-test-send")).to_have_count(0)  # adding a tag sends nothing to test
    open_node(page, "hello")
    box = page.locator("#qf-test-send")
    expect(box.locator("legend")).to_have_text("测试发送")
    expect(page.locator("#qf-test-send-button")).to_be_disabled()

    # An unsaved change: the test sends what the canvas says now (saved first).
    page.locator('.qf-config [data-path="text"] textarea').fill("{{ member.name }}，今晚八点直播见")
    page.fill("#qf-test-member", "林")
    choices = page.locator(".qf-test-member-choice")
    expect(choices).to_have_count(2)  # 小林 and 林大海, by name
    choices.filter(has_text="小林").click()
    expect(page.locator("#qf-test-member-picked")).to_have_text("已选：小林")
    page.locator("#qf-test-send-button").click()

    result = page.locator("#qf-test-send-result")
    expect(result.locator(".qf-test-status")).to_have_text(
        "已记录（未发送）：尚未为消息配置连接器，没有发出任何内容。"
    )
    expect(page.locator("#qf-dirty")).to_be_hidden()
    save_screenshot(page, "editor-test-send")

    result.get_by_role("link", name="查看这条投递").click()
    page.wait_for_url("**/deliveries?flow=care*")
    row = page.locator("#qf-deliveries tbody tr").filter(has_text="测试发送")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("新人关怀")
    expect(row).to_contain_text("问候")
    expect(row).to_contain_text("小林")
    expect(row).to_contain_text("小林，今晚八点直播见")
    expect(row).to_contain_text("已记录（未发送）")
    expect(row).not_to_contain_text("已发送")
    save_screenshot(page, "deliveries-test-send")


def test_at_800_pixels_a_test_goes_to_a_staff_account_picked_by_name(page: Page) -> None:
    page.set_viewport_size({"width": 800, "height": 900})
    open_node(page, "hello")
    page.check("#qf-test-to-staff")
    staff = page.locator("#qf-test-staff")
    expect(staff).to_be_visible()
    expect(staff.locator("option", has_text="王小明")).to_have_count(1)
    staff.select_option(label="王小明")
    button = page.locator("#qf-test-send-button")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 800  # inside the window, not cut off
    button.click()
    expect(page.locator("#qf-test-send-result .qf-test-status")).to_contain_text("已记录（未发送）")
    save_screenshot(page, "editor-800-test-send")
    page.goto("/deliveries")
    row = page.locator("#qf-deliveries tbody tr").filter(has_text="测试发送")
    expect(row).to_contain_text("员工：王小明")
