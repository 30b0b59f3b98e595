"""The community pages in a real Chromium: an operator uploads groups.csv (with the progress bar,
through htmx), sees the groups listed and searches them, a bad file refused naming the line and field;
searches members and lifts a blacklist; picks a content item in a node form, with its preview."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_kit import chromium, operator_page
from browser_server import chromium_missing, running_server, save_screenshot

from qunflow.engine import ContentItem, Store
from qunflow.engine.member import MemberRecord

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

if chromium_missing() is None:
    from playwright.sync_api import Page, expect

CSV = "id,name,tags,kind,capacity\ng-fans-1,粉丝福利 1 群,fans,fans,200\nvip-1,VIP 尊享 1 群,vip,vip,150\n"


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    database = tmp_path / "qunflow.db"
    store = Store.open(f"sqlite:///{database}")
    members = [MemberRecord("m-1", "小林"), MemberRecord("m-2", "阿强", blacklisted=True)]
    store.put_members([m.to_member(0) for m in members])
    store.put_content([ContentItem("welcome-script", "新人欢迎话术", text="{{ member.name }}，欢迎！")], 0)
    store.close()
    with (
        running_server(database) as base_url,
        chromium() as browser,
        operator_page(browser, base_url, next_path="/groups", height=900) as page,
    ):
        yield page


def test_an_operator_uploads_groups_and_finds_them_listed(page: Page, tmp_path: Path) -> None:
    expect(page.locator("#qf-groups")).to_contain_text("没有符合条件的群")
    good = tmp_path / "groups.csv"
    good.write_text(CSV, encoding="utf-8")
    page.set_input_files("#qf-upload input[type=file]", str(good))
    page.click("#qf-upload button[type=submit]")
    expect(page.locator("#qf-upload-result")).to_contain_text("已导入 2 条")
    # The list refreshes itself after the upload, without a reload.
    expect(page.locator("#qf-groups")).to_contain_text("粉丝福利 1 群")
    expect(page.locator("#qf-groups")).to_contain_text("VIP 尊享 1 群")
    assert page.locator("#qf-upload-progress").get_attribute("hidden") is None
    save_screenshot(page, "groups")

    page.fill("#qf-group-search", "VIP")
    expect(page.locator("#qf-groups")).not_to_contain_text("粉丝福利 1 群")
    expect(page.locator("#qf-groups")).to_contain_text("VIP 尊享 1 群")

    bad = tmp_path / "groups-bad.csv"
    bad.write_text("id,capacity\ng-2,20\ng-3,-1\n", encoding="utf-8")
    page.set_input_files("#qf-upload input[type=file]", str(bad))
    page.click("#qf-upload button[type=submit]")
    expect(page.locator("#qf-flash")).to_contain_text("groups-bad.csv line 3: capacity")
    page.fill("#qf-group-search", "")
    expect(page.locator("#qf-groups")).to_contain_text("粉丝福利 1 群")
    expect(page.locator("#qf-groups")).not_to_contain_text("g-2")


def test_an_operator_searches_members_and_lifts_a_blacklist(page: Page) -> None:
    page.click("nav >> text=成员")
    page.wait_for_url("**/members")
    page.fill("#qf-member-search", "阿强")
    expect(page.locator("#qf-members")).not_to_contain_text("小林")
    page.click("#qf-members >> text=m-2")
    page.wait_for_url("**/members/m-2")
    expect(page.locator(".qf-facts")).to_contain_text("黑名单")
    page.click("#qf-blacklist button")
    page.wait_for_url("**/members/m-2")
    expect(page.locator(".qf-facts")).not_to_contain_text("黑名单")
    expect(page.locator(".qf-timeline")).to_contain_text("operator")
    expect(page.locator("#qf-blacklist button")).to_have_text("拉黑")


def test_an_operator_picks_a_content_item_in_a_node_form(page: Page) -> None:
    page.goto("/flows/greeting?name=欢迎")
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")
    page.locator('.qf-palette-item[data-type="action.send_message"]').drag_to(
        page.locator("#drawflow"), target_position={"x": 200, "y": 100}
    )
    content = page.locator('#qf-panel-body .qf-field[data-path="content"]')
    options = content.locator("datalist option")
    expect(options).to_have_count(1)
    assert options.first.get_attribute("value") == "welcome-script"
    assert options.first.get_attribute("label") == "新人欢迎话术"
    content.locator("input").fill("welcome-script")
    expect(content.locator(".qf-content-preview")).to_contain_text("{{ member.name }}，欢迎！")
    save_screenshot(page, "content-picker")
