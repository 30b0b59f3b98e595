"""The member filter of the runs (旅程) and deliveries (投递) pages in a real Chromium (issue #15): an
operator types a part of a name, picks the member from the list, sees only her rows and her name in
the field and in the summary — at 1400 and at 800 pixels wide. A name typed and sent with Enter is
looked up by the server, with scripts on or off; a member's page links to her runs with her name in
the field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from browser_kit import chromium, operator_page, sign_in
from browser_server import chromium_missing, running_server, save_screenshot

from qunflow.editor.services import Services
from qunflow.engine.event import convert_events

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

if chromium_missing() is None:
    from playwright.sync_api import Page, expect

FLOW = {
    "id": "welcome",
    "name": "新人欢迎",
    "nodes": [
        {"id": "joined", "type": "trigger.member_joined", "config": {}},
        {"id": "coupon", "type": "action.send_coupon", "config": {"coupon": "welcome-10"}, "label": "新人券"},
        {"id": "wait", "type": "wait.delay", "config": {"duration": "P1D"}},
    ],
    "edges": [{"from": "joined", "to": "coupon"}, {"from": "coupon", "to": "wait"}],
}
PEOPLE = {"m-1": "小林", "m-2": "林大海", "m-3": "阿强"}
ROWS = {"/runs": "#qf-runs tbody tr", "/deliveries": "#qf-deliveries tbody tr"}


def _seed(database: Path) -> None:
    """Three members joined: a waiting run and a pending coupon each."""
    services = Services.open(f"sqlite:///{database}")
    services.store.migrate()
    services.engine.deploy(FLOW)
    at = datetime.now(UTC).isoformat()
    joined = [
        {"id": f"e-{member}", "type": "member_joined", "at": at, "member": member, "group": "g-1",
         "profile": {"name": name}}
        for member, name in PEOPLE.items()
    ]  # fmt: skip
    services.engine.ingest(convert_events(joined))
    services.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("filters") / "qunflow.db"
    _seed(database)
    with running_server(database) as base_url:
        yield base_url


@pytest.fixture
def page(server: str) -> Iterator[Page]:
    with chromium() as browser, operator_page(browser, server, height=900, console=True) as page:
        yield page


@pytest.mark.parametrize("width", [1400, 800])
@pytest.mark.parametrize("path", ROWS)
def test_an_operator_picks_a_member_by_name(page: Page, path: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(path)
    rows = page.locator(ROWS[path])
    expect(rows).to_have_count(3)

    field = page.locator("#qf-filter-member")
    field.fill("林")
    choices = page.locator("#qf-filter-member-results .qf-member-choice")
    expect(choices).to_have_count(2)  # 小林 and 林大海, by name
    expect(choices.first).to_contain_text("小林")
    box = page.locator("#qf-filter-member-results").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width  # inside the window
    choices.filter(has_text="林大海").click()

    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("林大海")
    expect(field).to_have_value("林大海")
    expect(page.locator("#qf-filter-member-results")).to_be_hidden()
    expect(page.locator("#qf-filter-summary-member")).to_have_text("成员：林大海")
    assert "member=m-2" in page.url  # the address asks by her id: it can be shared and reloaded
    save_screenshot(page, f"filter-member{path.replace('/', '-')}-{width}")

    # Another filter changed later keeps her.
    page.select_option("select[name=status]", "" if path == "/runs" else "recorded")
    if path == "/runs":
        page.select_option("select[name=flow]", "welcome")
        expect(page.locator("#qf-filter-summary")).to_contain_text("流程：新人欢迎")
        expect(rows).to_have_count(1)
    else:
        expect(page.locator("#qf-deliveries")).to_contain_text("没有符合条件的投递")
        page.select_option("select[name=status]", "")
        expect(rows).to_have_count(1)
    expect(page.locator("#qf-filter-summary-member")).to_have_text("成员：林大海")

    # Reloaded from its address, the field says her name again.
    page.reload()
    expect(field).to_have_value("林大海")
    expect(rows).to_have_count(1)

    # A whole name typed and sent with Enter, not picked: the server finds her.
    field.fill("阿强")
    field.press("Enter")
    expect(page.locator("#qf-filter-summary-member")).to_have_text("成员：阿强")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("阿强")
    expect(page.locator("#qf-flash")).to_be_hidden()


def test_a_members_page_links_to_her_runs_and_deliveries_by_name(page: Page) -> None:
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto("/members/m-1")
    page.locator("main a", has_text="旅程").first.click()
    page.wait_for_url("**/runs?member=m-1")
    expect(page.locator("#qf-filter-member")).to_have_value("小林")
    expect(page.locator("#qf-filter-summary-member")).to_have_text("成员：小林")
    expect(page.locator(ROWS["/runs"])).to_have_count(1)
    page.go_back()
    page.locator("#qf-member-deliveries").click()
    page.wait_for_url("**/deliveries?member=m-1")
    expect(page.locator("#qf-filter-member")).to_have_value("小林")
    expect(page.locator(ROWS["/deliveries"])).to_have_count(1)


def test_without_scripts_the_plain_form_filters_by_a_name(server: str) -> None:
    with chromium() as browser:
        context = browser.new_context(
            viewport={"width": 800, "height": 900}, base_url=server, locale="zh-CN", java_script_enabled=False
        )
        page = context.new_page()
        sign_in(page, "/deliveries")
        page.fill("#qf-filter-member", "大海")
        page.press("#qf-filter-member", "Enter")
        page.wait_for_url("**/deliveries?*member=*")
        expect(page.locator(ROWS["/deliveries"])).to_have_count(1)
        expect(page.locator(ROWS["/deliveries"]).first).to_contain_text("林大海")
        expect(page.locator("#qf-filter-member")).to_have_value("林大海")
        expect(page.locator("#qf-filter-summary-member")).to_have_text("成员：林大海")
        # Several members fit: the page asks which one, and a link picks her.
        page.fill("#qf-filter-member", "林")
        page.press("#qf-filter-member", "Enter")
        page.wait_for_url("**/deliveries?*member=%E6%9E%97*")
        which = page.locator("#qf-member-which")
        expect(which).to_contain_text("有多位成员的名字或 ID 含有“林”")
        which.get_by_role("link", name="小林").click()
        page.wait_for_url("**member=m-1*")
        expect(page.locator(ROWS["/deliveries"])).to_have_count(1)
        expect(page.locator("#qf-filter-member")).to_have_value("小林")
        context.close()
