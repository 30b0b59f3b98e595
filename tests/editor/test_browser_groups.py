"""The groups page in a real Chromium: an operator uploads groups.csv (with the progress bar, through
htmx), sees the groups listed and searches them; a bad file is refused naming the line and field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    OPERATOR,
    chromium_missing,
    running_server,
    save_screenshot,
)

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

if chromium_missing() is None:
    from playwright.sync_api import Page, expect, sync_playwright

CSV = "id,name,tags,kind,capacity\ng-fans-1,粉丝福利 1 群,fans,fans,200\nvip-1,VIP 尊享 1 群,vip,vip,150\n"


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    with running_server(tmp_path / "qunflow.db") as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(
            viewport={"width": 1366, "height": 900}, base_url=base_url, locale="zh-CN"
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto("/login?next=/groups")
        page.fill("input[name=username]", OPERATOR[0])
        page.fill("input[name=password]", OPERATOR[1])
        page.press("input[name=password]", "Enter")
        page.wait_for_url("**/groups")
        yield page
        assert errors == []
        browser.close()


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
