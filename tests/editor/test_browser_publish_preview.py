"""Publishing asks first, and the preview takes a form (issue #15), in a real Chromium at 1400×900 and
800×900, on a server whose clock stands at 2026-11-22 10:00 in Shanghai:

- the publish dialog of a changed flow lists the change in words (a wait's 1 天 → 2 天) and how many
  members its audience holds now; a first publish says it is the first version, and for a flow that
  events start, says honestly that members enter as events come, beside the last 30 days;
- the preview runs from the form alone (no JSON typed) and shows counts on the nodes; "Advanced (JSON)"
  shows the form's JSON and edits made there come back to the form; a bad field is named.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from browser_kit import csrf_token, operator_page
from browser_server import chromium_missing, running_server, save_screenshot

from qunflow.editor.services import Services
from qunflow.engine import SimClock
from qunflow.engine.community_settings import Approval, CommunitySettings, save_settings
from qunflow.engine.event import convert_events
from qunflow.engine.member import GroupRecord, MemberRecord

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

if chromium_missing() is None:
    from playwright.sync_api import Browser, Page, expect

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SIZES = [pytest.param((1400, 900), id="1400x900"), pytest.param((800, 900), id="800x900")]


def promo(flow_id: str) -> dict[str, Any]:
    """Every day at 10:00 the vip members wait a day, then get a message."""
    return {
        "id": flow_id,
        "name": "大促提醒",
        "nodes": [
            {"id": "daily", "type": "trigger.schedule", "position": {"x": 40, "y": 60},
             "config": {"cron": "0 10 * * *", "audience": {"tags_any": ["vip"]}}},
            {"id": "later", "type": "wait.delay", "label": "等一天", "config": {"duration": "P1D"},
             "position": {"x": 320, "y": 60}},
            {"id": "hi", "type": "action.send_message", "config": {"text": "大促来了"},
             "position": {"x": 600, "y": 60}},
        ],
        "edges": [{"from": "daily", "to": "later"}, {"from": "later", "to": "hi"}],
    }  # fmt: skip


def welcome(flow_id: str) -> dict[str, Any]:
    """A member joins: tag, wait a day, coupon."""
    return {
        "id": flow_id,
        "name": "新人欢迎",
        "nodes": [
            {"id": "joined", "type": "trigger.member_joined", "config": {}, "position": {"x": 40, "y": 60}},
            {"id": "tag", "type": "action.add_tag", "config": {"tags": ["new"]},
             "position": {"x": 300, "y": 60}},
            {"id": "wait", "type": "wait.delay", "config": {"duration": "P1D"},
             "position": {"x": 560, "y": 60}},
            {"id": "coupon", "type": "action.send_coupon", "config": {"coupon": "welcome-10"},
             "position": {"x": 820, "y": 60}},
        ],
        "edges": [{"from": "joined", "to": "tag"}, {"from": "tag", "to": "wait"},
                  {"from": "wait", "to": "coupon"}],
    }  # fmt: skip


def _seed(database: Path) -> None:
    """Three vip members, a named group, and two members who joined within the last 30 days."""
    services = Services.open(f"sqlite:///{database}", clock=SimClock(NOW))
    services.store.migrate()
    now = services.now_us()
    services.store.put_members(
        [MemberRecord(id=f"vip-{i}", name=f"贵宾{i}", tags=["vip"]).to_member(now) for i in (1, 2, 3)]
    )
    services.store.put_groups([GroupRecord(id="g-fans", name="粉丝一群", tags=["fans"])])
    joined = [
        {"id": f"j-{i}", "type": "member_joined", "member": f"m-{i}", "group": "g-fans", "at": at}
        for i, at in ((1, "2026-11-10T09:00:00+08:00"), (2, "2026-11-20T09:00:00+08:00"))
    ]
    services.engine.ingest(convert_events(joined))
    services.close()


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    database = tmp_path_factory.mktemp("server") / "qunflow.db"
    _seed(database)
    return database


@pytest.fixture(scope="module")
def base_url(database: Path) -> Iterator[str]:
    with running_server(database, clock=SimClock(NOW)) as url:
        yield url


@pytest.fixture(params=SIZES)
def page(request: pytest.FixtureRequest, browser: Browser, base_url: str) -> Iterator[Page]:
    """The operator's page at each size; any script or console error fails the test."""
    with operator_page(browser, base_url, console=True) as page:
        page.set_viewport_size(dict(zip(("width", "height"), request.param, strict=True)))
        yield page


@pytest.fixture(params=SIZES)
def refused_page(request: pytest.FixtureRequest, browser: Browser, base_url: str) -> Iterator[Page]:
    """The same, where the server may refuse a request (the browser logs the 422 to its console)."""
    with operator_page(browser, base_url) as page:
        page.set_viewport_size(dict(zip(("width", "height"), request.param, strict=True)))
        yield page


def _size(page: Page) -> str:
    return f"{page.viewport_size['width']}x{page.viewport_size['height']}"


def _open(page: Page, flow: dict[str, Any], publish: bool = False) -> None:
    """Store the flow's draft (and publish it as version 1 when asked); open it in the editor."""
    csrf = {"X-CSRF-Token": csrf_token(page)}
    assert page.request.post("/api/flows", data=flow, headers=csrf).ok
    if publish:
        assert page.request.post(f"/api/flows/{flow['id']}/publish", headers=csrf).ok
    page.goto(f"/flows/{flow['id']}")
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")


def _node(page: Page, node_id: str) -> Any:
    return page.locator(f'.drawflow-node[data-node-id="{node_id}"]')


def test_the_publish_dialog_says_what_changed_and_the_reach_now(page: Page) -> None:
    flow_id = f"promo-{_size(page)}"
    _open(page, promo(flow_id), publish=True)
    # The wait becomes two days, through its form.
    _node(page, "later").locator(".qf-node-title").click()
    amount = page.locator('#qf-panel-body .qf-field[data-path="duration"] input')
    amount.fill("2")
    amount.press("Tab")
    page.click("#qf-publish")

    dialog = page.locator("#qf-forecast")
    expect(dialog).to_be_visible()
    changes = page.locator("#qf-publish-change-list li")
    expect(changes).to_have_count(1)
    expect(changes.first).to_have_text("修改配置 等一天 · 时长: 1 天 → 2 天")
    expect(page.locator("#qf-publish-changes")).to_contain_text("相对线上版本 v1")
    expect(page.locator("#qf-reach-now")).to_have_text(
        "现在：3 位成员符合受众条件，按计划触发或群发时触达他们。"
    )
    expect(page.locator("#qf-reach-events")).to_have_count(0)
    expect(page.locator("#qf-forecast-body")).to_have_attribute("data-state", "done")
    # Nothing of it is JSON or an id.
    said = page.locator("#qf-forecast-body").inner_text()
    assert '{"' not in said and "P2D" not in said and "later" not in said
    # The dialog fits the screen: its buttons are in view.
    expect(page.locator("#qf-forecast-publish")).to_be_in_viewport()
    save_screenshot(page, f"publish-dialog-changes-{_size(page)}")
    page.click("#qf-forecast-publish")
    expect(page.locator("#qf-status")).to_contain_text("已发布版本 2")


def test_a_first_publish_says_so_and_that_events_bring_the_members(page: Page) -> None:
    flow_id = f"welcome-{_size(page)}"
    _open(page, welcome(flow_id))
    page.click("#qf-publish")
    expect(page.locator("#qf-publish-first")).to_have_text("这是第一个版本：此流程还没有线上版本。")
    expect(page.locator("#qf-publish-change-list")).to_have_count(0)
    expect(page.locator("#qf-reach-events")).to_have_text(
        "由事件触发：成员随事件到来而进入，现在无法预先计数。按过去 30 天计，将有 2 人进入。"
    )
    expect(page.locator("#qf-reach-now")).to_have_count(0)
    expect(page.locator("#qf-forecast-summary")).to_contain_text("将有 2 人进入")
    save_screenshot(page, f"publish-dialog-first-{_size(page)}")
    page.click("#qf-forecast-cancel")
    expect(page.locator("#qf-status")).to_have_text("未发布")
    assert page.request.get(f"/api/flows/{flow_id}").json()["live_version"] is None


@contextmanager
def approval(database: Path, min_reach: int) -> Iterator[None]:
    """Approval before large sends (DESIGN §18) from `min_reach` members on, while inside."""
    services = Services.open(f"sqlite:///{database}")
    try:
        save_settings(services.store, CommunitySettings(approval=Approval(min_reach)), services.now_us())
        yield
    finally:
        save_settings(services.store, CommunitySettings(), services.now_us())
        services.close()


def test_the_dialog_says_when_the_reach_needs_an_admins_approval(page: Page, database: Path) -> None:
    flow_id = f"approval-{_size(page)}"
    with approval(database, 3):
        _open(page, promo(flow_id))
        page.click("#qf-publish")
        expect(page.locator("#qf-reach-approval")).to_have_text(
            "触达 3 人，达到 3 人的审批门槛：发布后须经管理员审批才会上线。"
        )
        page.click("#qf-forecast-publish")
        expect(page.locator("#qf-status")).to_contain_text("等待管理员审批")
    with approval(database, 4):
        page.click("#qf-publish")
        expect(page.locator("#qf-reach-now")).to_contain_text("3 位成员")
        expect(page.locator("#qf-reach-approval")).to_have_count(0)
        page.click("#qf-forecast-cancel")


def _member(page: Page, index: int) -> Any:
    return page.locator(f'#qf-preview-form [data-member="{index}"]')


def _event(page: Page, index: int) -> Any:
    return page.locator(f'#qf-preview-form [data-event="{index}"]')


def _unfold(page: Page, part: str) -> None:
    """Open the form's folded list of sample members or events."""
    box = page.locator(f"#qf-preview-form .qf-samples-{part}")
    if box.get_attribute("open") is None:
        box.locator("> summary").click()
    expect(box).to_have_attribute("open", "")


def _json(page: Page) -> dict[str, Any]:
    return json.loads(page.locator("#qf-preview-events").input_value())


def test_the_preview_runs_from_the_form_and_advanced_shows_its_json(page: Page) -> None:
    _open(page, welcome(f"preview-{_size(page)}"))
    page.click("#qf-preview")
    # The samples fill the form: members by name, events with a type, a member and a local time; the
    # lists are folded, so the run button is in view.
    expect(page.locator("#qf-preview-form .qf-samples-members > summary")).to_have_text(
        "示例成员（6）：小林、阿杰、Mia、王芳…"
    )
    expect(page.locator("#qf-preview-run")).to_be_in_viewport()
    expect(page.locator("#qf-preview-events")).to_be_hidden()

    # Run from the form alone: counts on the nodes, names (not ids) in the deliveries.
    page.click("#qf-preview-run")
    expect(page.locator("#qf-status")).to_contain_text("预览完成")
    expect(_node(page, "joined").locator(".qf-count")).to_have_text("▶ 6")
    expect(_node(page, "coupon").locator(".qf-count")).to_have_text("▶ 6")
    expect(page.locator("#qf-preview-result tbody tr").first).to_contain_text("小林")
    assert "m-sample" not in page.locator("#qf-preview-result").inner_text()
    save_screenshot(page, f"preview-form-{_size(page)}")

    _unfold(page, "members")
    _unfold(page, "events")
    expect(page.locator("#qf-preview-form [data-member]")).to_have_count(6)
    expect(_member(page, 0).locator('[data-field="name"] input')).to_have_value("小林")
    first = _event(page, 0)
    expect(first.locator('[data-field="type"] select option:checked')).to_have_text("入群")
    expect(first.locator('[data-field="member"] select option:checked')).to_have_text("小林")
    expect(first.locator('[data-field="at"] input')).to_have_value("2026-11-02T10:00")

    # Edit in the form: a name, a group picked by its name, the first event's time.
    _member(page, 0).locator('[data-field="name"] input').fill("小雨")
    _member(page, 0).locator('[data-field="groups"] select').select_option(label="粉丝一群")
    expect(_member(page, 0).locator('[data-field="groups"] .qf-tag')).to_have_text("粉丝一群×")
    first.locator('[data-field="at"] input').fill("2026-11-03T09:30")
    expect(first.locator('[data-field="member"] select option:checked')).to_have_text("小雨")

    # Advanced shows the JSON of the form.
    page.click("#qf-preview-advanced")
    expect(page.locator("#qf-preview-events")).to_be_visible()
    expect(page.locator("#qf-preview-form")).to_be_hidden()
    shown = _json(page)
    assert shown["members"][0] == {"id": "m-sample-1", "name": "小雨", "groups": ["g-fans"]}
    assert {"id": "g-fans", "name": "粉丝一群", "tags": ["fans"]} in shown["groups"]
    assert shown["events"][0]["at"] == "2026-11-03T09:30:00+08:00"
    assert shown["events"][0]["member"] == "m-sample-1"

    # Edited there, the JSON comes back to the form.
    shown["members"][1]["name"] = "小雪"
    page.locator("#qf-preview-events").fill(json.dumps(shown, ensure_ascii=False))
    page.click("#qf-preview-advanced")
    expect(page.locator("#qf-preview-form")).to_be_visible()
    expect(_member(page, 1).locator('[data-field="name"] input')).to_have_value("小雪")
    # JSON that does not read keeps the form as it was, and says why.
    page.click("#qf-preview-advanced")
    page.locator("#qf-preview-events").fill('{"events": [')
    expect(page.locator("#qf-preview-json-error")).to_contain_text("不是有效的 JSON")
    page.click("#qf-preview-advanced")
    expect(page.locator("#qf-preview-events")).to_be_visible()  # not left until it reads
    page.click("#qf-preview-samples")
    page.click("#qf-preview-advanced")
    expect(_member(page, 0).locator('[data-field="name"] input')).to_have_value("小林")
    expect(page.locator("#qf-preview-form .qf-samples-members > summary")).to_contain_text("小林")


def test_a_bad_field_of_the_form_is_named(refused_page: Page) -> None:
    page = refused_page
    _open(page, welcome(f"checks-{_size(page)}"))
    page.click("#qf-preview")
    _unfold(page, "events")
    first = _event(page, 0)
    first.locator('[data-field="at"] input').fill("")
    page.locator("#qf-preview-form .qf-samples-events > summary").click()  # folded again
    page.click("#qf-preview-run")
    expect(page.locator("#qf-status")).to_have_text("示例事件 1：请填写时间")
    # The list unfolds to show the field that needs a fix.
    expect(first.locator('[data-field="at"] .qf-field-error')).to_be_visible()
    expect(first.locator('[data-field="at"] .qf-field-error')).to_have_text("示例事件 1：请填写时间")
    # A time the server refuses (before 1970) is named at its field too, with the server's reason.
    first.locator('[data-field="at"] input').fill("1900-01-01T10:00")
    page.click("#qf-preview-run")
    refused = "示例事件 1：时间未被接受：时间超出可用范围"
    expect(page.locator("#qf-status")).to_contain_text(refused)
    expect(first.locator('[data-field="at"] .qf-field-error')).to_contain_text(refused)
    first.locator('[data-field="at"] input').fill("2026-11-02T10:00")

    # A purchase needs its amount; the field appears with the type.
    second = _event(page, 1)
    second.locator('[data-field="type"] select').select_option(label="下单")
    amount = second.locator('[data-field="data.amount"] input')
    expect(amount).to_be_visible()
    page.click("#qf-preview-run")
    expect(page.locator("#qf-status")).to_have_text("示例事件 2：金额须为不小于 0 的数字")
    amount.fill("88")
    days = page.locator('#qf-preview-form [data-field="until"] input')
    days.fill("0")
    page.click("#qf-preview-run")
    expect(page.locator("#qf-status")).to_have_text("模拟天数须为 1 到 366 之间的整数")
    days.fill("7")
    page.click("#qf-preview-run")
    expect(page.locator("#qf-status")).to_contain_text("预览完成")
    page.click("#qf-preview-advanced")
    purchase = _json(page)["events"][1]
    assert (purchase["type"], purchase["data"]["amount"]) == ("purchase", 88)


def test_in_english_the_dialog_and_the_form_say_it_in_english(page: Page) -> None:
    flow_id = f"english-{_size(page)}"
    page.goto(f"/lang/en?next=/flows/{flow_id}")
    _open(page, promo(flow_id), publish=True)
    _node(page, "later").locator(".qf-node-title").click()
    page.locator('#qf-panel-body .qf-field[data-path="duration"] input').fill("3")
    page.click("#qf-publish")
    expect(page.locator("#qf-publish-change-list li")).to_have_text(
        ["Setting changed 等一天 · Duration: 1 day → 3 days"]
    )
    expect(page.locator("#qf-reach-now")).to_have_text(
        "Now: 3 members are in its audience; the schedule or the broadcast reaches them."
    )
    page.click("#qf-forecast-cancel")
    page.click("#qf-preview")
    expect(page.locator("#qf-preview-advanced")).to_have_text("Advanced (JSON)")
    expect(page.locator("#qf-preview-form .qf-samples-members > summary")).to_contain_text(
        "Sample members (6)"
    )
    _unfold(page, "events")
    _event(page, 0).locator('[data-field="at"] input').fill("")
    page.click("#qf-preview-run")
    expect(page.locator("#qf-status")).to_have_text("Sample event 1: Time is required")
