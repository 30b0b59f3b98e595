"""An operator's day in a real Chromium (issue #15, "Done when"), at 1400×900 and at 800×900.

The server runs on a clock standing at 23:00 in Shanghai, in the flows' quiet hours, with its worker
dispatching deliveries; a webhook connector sends coupons to a receiver on loopback that refuses them
at first. Everything the day needs is made through the HTTP API, as another system or an admin would:
staff, a connector and its route, flows, and the events that bring the members in. Then the operator
finds 小林 by name, reads why her runs wait, retries her failed coupon, marks a staff task done and sees
her run go on, copies two nodes into a new flow, saves it unfinished and reloads it, rolls a flow back
to version 1, and publishes the new flow through the dialog — every step checked on the page.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from api_helpers import bearer
from browser_kit import chromium, operator_page
from browser_server import chromium_missing, running_server
from connector_kit import Receiver

from qunflow.editor.accounts import Accounts
from qunflow.engine import SimClock, Store
from qunflow.engine.clock import to_us

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

if chromium_missing() is None:
    from playwright.sync_api import Page, expect

SHANGHAI = ZoneInfo("Asia/Shanghai")
NIGHT = datetime(2026, 11, 23, 23, 0, tzinfo=SHANGHAI)  # a Monday, in the quiet hours 22:00–08:00
JOINED_AT = "2026-11-23T22:30:00+08:00"
VIEWPORTS = {"wide": (1400, 900), "narrow": (800, 900)}

WELCOME = {
    "id": "welcome",
    "name": "新人欢迎",
    "settings": {"quiet_hours": {"start": "22:00", "end": "08:00"}},
    "nodes": [
        {"id": "joined", "type": "trigger.member_joined", "config": {}, "label": "新成员入群",
         "position": {"x": 40, "y": 80}},
        {"id": "coupon", "type": "action.send_coupon", "config": {"coupon": "welcome-10"}, "label": "新人券",
         "position": {"x": 300, "y": 80}},
        {"id": "hello", "type": "action.send_message", "label": "欢迎语",
         "config": {"text": "{{ member.name }}，欢迎加入！"}, "position": {"x": 560, "y": 80}},
    ],
    "edges": [{"from": "joined", "to": "coupon"}, {"from": "coupon", "to": "hello"}],
}  # fmt: skip
FIRST_ORDER = {
    "id": "first-order",
    "name": "首单跟进",
    "nodes": [
        {"id": "joined", "type": "trigger.member_joined", "config": {}, "label": "新成员入群"},
        {"id": "bought", "type": "wait.for_event", "label": "等待首单",
         "config": {"event": "purchase", "timeout": "P3D"}},
        {"id": "thanks", "type": "action.add_tag", "config": {"tags": ["buyer"]}, "label": "标记已下单"},
    ],
    "edges": [{"from": "joined", "to": "bought"}, {"from": "bought", "port": "event", "to": "thanks"}],
}  # fmt: skip
CARE = {
    "id": "care",
    "name": "新人回访",
    "nodes": [
        {"id": "joined", "type": "trigger.member_joined", "config": {}, "label": "新成员入群"},
        {"id": "call", "type": "action.assign_task", "label": "回访电话",
         "config": {"title": "给 {{ member.name }} 打回访电话", "staff": "s-7", "wait": True}},
        {"id": "called", "type": "action.add_tag", "label": "标记已回访", "config": {"tags": ["called"]}},
    ],
    "edges": [{"from": "joined", "to": "call"}, {"from": "call", "port": "done", "to": "called"}],
}  # fmt: skip
TONIGHT = {
    "id": "tonight",
    "name": "今晚直播",
    "nodes": [
        {"id": "joined", "type": "trigger.member_joined", "config": {}, "label": "新成员入群"},
        {"id": "invite", "type": "action.send_message", "label": "直播预告",
         "config": {"text": "今晚 8 点直播"}},
        {"id": "offer", "type": "action.send_message", "label": "直播优惠",
         "config": {"text": "直播间专享券"}},
    ],
    "edges": [{"from": "joined", "to": "invite"}, {"from": "invite", "to": "offer"}],
}  # fmt: skip
# One message a day to a member from all flows together: 今晚直播's second message waits for room.
TOUCH_BUDGET = {"touch_budget": {"messages": 1, "per": "P1D"}}
MEMBERS = (("m-1", "小林"), ("m-2", "阿强"))


def _joined(member: str, name: str) -> dict[str, Any]:
    return {"id": f"join-{member}", "type": "member_joined", "member": member, "group": "g-fans-1",
            "at": JOINED_AT, "profile": {"name": name}}  # fmt: skip


def build_the_day(api: httpx.Client, receiver: Receiver) -> None:
    """Through the API: a staff member, the fans group, the webhook connector routed for coupons, a touch
    budget, four live flows (the welcome flow twice, so it has a version 1 to go back to), and two members
    joining."""
    ok = [
        api.post("/api/staff", json={"id": "s-7", "name": "王小明"}),
        api.post("/api/groups", json={"id": "g-fans-1", "name": "粉丝福利 1 群", "tags": ["fans"]}),
        api.put("/api/connectors/webhook",
                json={"secret": "operator-day-secret", "url": receiver.url, "allow": ["127.0.0.1/32"]}),
        api.put("/api/connectors/routes", json={"coupon": "webhook"}),
        api.put("/api/settings", json=TOUCH_BUDGET),
    ]  # fmt: skip
    first = {**WELCOME, "nodes": [{**n, "config": {"text": "欢迎！"}} if n["id"] == "hello" else n
                                  for n in WELCOME["nodes"]]}  # fmt: skip
    for flow in (first, WELCOME, FIRST_ORDER, CARE, TONIGHT):
        ok.append(api.post("/api/flows", json=flow))
        ok.append(api.post(f"/api/flows/{flow['id']}/publish"))
    ok.append(api.post("/api/events", json=[_joined(*member) for member in MEMBERS]))
    for answer in ok:
        assert answer.is_success, (answer.request.url, answer.text)
    # The worker sends the two coupons in its own time; the day starts once the receiver refused them.
    deadline = time.monotonic() + 30
    while len(api.get("/api/deliveries", params={"status": "failed"}).json()["items"]) < len(MEMBERS):
        assert time.monotonic() < deadline, "the coupons were never tried"
        time.sleep(0.1)


@pytest.fixture(params=list(VIEWPORTS), ids=list(VIEWPORTS))
def page(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Page]:
    database = tmp_path / "qunflow.db"
    receiver = Receiver()
    receiver.status = 400  # the coupon system refuses the first call for good: the delivery fails
    with running_server(database, clock=SimClock(NIGHT), worker=True) as base_url:
        store = Store.open(f"sqlite:///{database}")
        token = Accounts(store).create_token("admin", to_us(NIGHT))[1]
        store.close()
        with httpx.Client(base_url=base_url, headers=bearer(token)) as api:
            build_the_day(api, receiver)
        receiver.status = 200
        width, height = VIEWPORTS[request.param]
        with (
            chromium() as browser,
            operator_page(browser, base_url, next_path="/members", console=True) as page,
        ):
            page.set_viewport_size({"width": width, "height": height})
            yield page
    receiver.close()


def node(page: Page, node_id: str) -> Any:
    return page.locator(f'.drawflow-node[data-node-id="{node_id}"]')


def narrow(page: Page) -> bool:
    return page.viewport_size["width"] < 1000


def fits(page: Page) -> None:
    """Nothing on the page needs sideways scrolling at this width."""
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"], page.url


def editor_ready(page: Page) -> None:
    expect(page.locator("body")).to_have_attribute("data-editor-ready", "true")


def side_panels(page: Page, shown: bool) -> None:
    """Show or hide the palette and the details panel, as an operator on a narrow screen does."""
    for toggle in ("#qf-toggle-palette", "#qf-toggle-panel"):
        if page.locator(toggle).get_attribute("aria-expanded") != str(shown).lower():
            page.click(toggle)
        expect(page.locator(toggle)).to_have_attribute("aria-expanded", str(shown).lower())


def find_her_by_name(page: Page) -> None:
    page.fill("#qf-member-search", "小林")
    rows = page.locator("#qf-members tbody tr")
    expect(rows).to_have_count(1)
    expect(page.locator("#qf-members")).not_to_contain_text("阿强")
    rows.first.get_by_role("link", name="小林").click()
    page.wait_for_url("**/members/m-1")
    expect(page.locator("h1")).to_contain_text("小林")
    fits(page)


def read_why_her_runs_wait(page: Page) -> None:
    """Each waiting run says why in words, with the moment in Shanghai time."""
    runs = page.locator(".qf-timeline li.qf-timeline-run")
    hello = runs.filter(has_text="欢迎语")
    expect(hello).to_contain_text("新人欢迎")
    expect(hello).to_contain_text("等待中")
    expect(hello.locator(".qf-reason")).to_have_text("免打扰时段，2026-11-24 08:00 发送")
    expect(runs.filter(has_text="等待首单").locator(".qf-reason")).to_have_text(
        "等待下单，最晚到 2026-11-26 23:00"
    )
    expect(runs.filter(has_text="回访电话").locator(".qf-reason")).to_contain_text("等待员工完成任务")
    expect(runs.filter(has_text="直播优惠").locator(".qf-reason")).to_have_text(
        "触达预算已满，等到 2026-11-24 23:00 再发"
    )
    coupon = page.locator(".qf-timeline li.qf-timeline-delivery").filter(has_text="新人券")
    expect(coupon).to_contain_text("失败")


def retry_her_failed_coupon(page: Page) -> None:
    page.click("#qf-member-deliveries")
    page.wait_for_url("**/deliveries?member=m-1")
    page.select_option("#qf-delivery-filter select[name=status]", "failed")
    rows = page.locator("#qf-deliveries tbody tr")
    expect(rows).to_have_count(1)
    row = rows.first
    for words in ("新人欢迎", "新人券", "小林", "welcome-10", "失败"):
        expect(row).to_contain_text(words)
    row.get_by_role("button", name="重试").click()
    # Pending again, or already sent: the worker is woken by the retry and may be that quick.
    expect(row.locator(".qf-status")).to_have_text(re.compile("^(待发送|已发送)$"))
    expect(row.get_by_role("button", name="重试")).to_have_count(0)
    # The worker sends it; the receiver takes it now. The list of sent ones has it once reloaded.
    page.select_option("#qf-delivery-filter select[name=status]", "sent")
    deadline = time.monotonic() + 20
    while rows.count() != 1:
        assert time.monotonic() < deadline, "the retried coupon was never sent"
        page.reload()
    expect(rows.first).to_contain_text("已发送")
    expect(rows.first).to_contain_text("小林")
    fits(page)


def mark_her_task_done(page: Page) -> None:
    page.click("nav >> text=任务")
    page.wait_for_url("**/tasks")
    row = page.locator("#qf-tasks tbody tr").filter(has_text="小林")
    expect(row).to_contain_text("给 小林 打回访电话")
    expect(row).to_contain_text("新人回访")
    expect(row).to_contain_text("王小明")
    fits(page)
    row.get_by_role("button", name="完成").click()
    expect(row).to_contain_text("已完成")
    expect(row.get_by_role("button")).to_have_count(0)
    row.get_by_role("link", name="小林", exact=True).click()
    page.wait_for_url("**/members/m-1")
    # The run went on past the task: tagged by the next node, and no longer waiting for it.
    expect(page.locator(".qf-facts")).to_contain_text("called")
    runs = page.locator(".qf-timeline li.qf-timeline-run")
    expect(runs.filter(has_text="标记已回访")).to_contain_text("已完成")
    expect(page.locator(".qf-timeline")).not_to_contain_text("等待员工完成任务")


def copy_two_nodes_to_a_new_flow(page: Page) -> None:
    page.goto("/flows/welcome")
    editor_ready(page)
    if narrow(page):
        side_panels(page, shown=False)
    node(page, "coupon").locator(".qf-node-title").click()
    node(page, "hello").locator(".qf-node-title").click(modifiers=["Shift"])
    page.keyboard.press("Control+c")
    expect(page.locator("#qf-status")).to_contain_text("已复制 2 个节点")

    page.click("nav >> text=流程")
    page.wait_for_url("**/flows")
    page.fill("#qf-new-id", "weekend")
    page.fill("#qf-new-name", "周末关怀")
    page.click("#qf-new-submit")
    page.wait_for_url("**/flows/weekend?**")
    editor_ready(page)
    page.locator("#drawflow").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+v")
    expect(page.locator("#qf-status")).to_contain_text("已粘贴 2 个节点")
    expect(page.locator(".drawflow-node")).to_have_count(2)
    expect(page.locator("#drawflow .connection")).to_have_count(1)
    expect(node(page, "coupon")).to_contain_text("新人券")
    expect(node(page, "hello")).to_contain_text("欢迎语")


def save_it_unfinished_and_reload(page: Page) -> None:
    page.click("#qf-save")
    expect(page.locator("#qf-status")).to_contain_text("草稿已保存，发布前还有")
    page.reload()
    editor_ready(page)
    expect(page.locator("#qf-restore")).to_be_hidden()  # it is on the server, not only in this browser
    expect(page.locator(".drawflow-node")).to_have_count(2)
    expect(page.locator("#drawflow .connection")).to_have_count(1)
    expect(page.locator("#qf-flow-name")).to_have_text("周末关怀")
    expect(page.locator("#qf-problems-list li")).not_to_have_count(0)
    expect(page.locator("#qf-problems-list")).to_contain_text("触发")


def roll_back_to_version_1(page: Page) -> None:
    page.goto("/flows/welcome/history")
    expect(page.locator("#v2")).to_contain_text("运行中")
    expect(page.locator("#v2")).to_contain_text("欢迎语")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#v1").get_by_role("button", name="回滚到此版本").click()
    expect(page.locator("#qf-rolled-back")).to_have_text("版本 1 已重新上线（发布为版本 3）。")
    expect(page.locator("#v3")).to_contain_text("运行中")
    expect(page.locator("#v3 .qf-changes")).to_contain_text("欢迎！")
    expect(page.locator("#v2")).not_to_contain_text("运行中")
    fits(page)


def publish_with_the_dialog(page: Page) -> None:
    page.goto("/flows/weekend")
    editor_ready(page)
    side_panels(page, shown=True)
    search = page.locator("#qf-palette-search")
    search.fill("新成员入群")
    search.press("Enter")  # adds the first match
    expect(page.locator(".drawflow-node")).to_have_count(3)
    trigger = page.locator("#qf-node-id").input_value()
    target = page.locator("#qf-connect-next option", has_text="(coupon)").get_attribute("value")
    page.locator("#qf-connect-next").select_option(target)
    expect(page.locator("#drawflow .connection")).to_have_count(2)
    expect(node(page, trigger)).to_be_visible()
    page.click("#qf-save")
    expect(page.locator("#qf-status")).to_have_text("草稿已保存")

    page.click("#qf-publish")
    dialog = page.locator("#qf-forecast")
    expect(dialog).to_be_visible()
    # The last 30 days: the two members who joined would have entered.
    expect(page.locator("#qf-forecast-summary")).to_contain_text("将有 2 人进入")
    page.click("#qf-forecast-publish")
    expect(dialog).to_be_hidden()
    expect(page.locator("#qf-status")).to_contain_text("已发布版本 1")
    expect(page.locator("#qf-flow-status")).to_have_text("运行中")
    fits(page)
    page.click("nav >> text=流程")
    expect(page.locator("#flow-weekend")).to_contain_text("运行中")
    fits(page)


def test_an_operators_day(page: Page) -> None:
    find_her_by_name(page)
    read_why_her_runs_wait(page)
    retry_her_failed_coupon(page)
    mark_her_task_done(page)
    copy_two_nodes_to_a_new_flow(page)
    save_it_unfinished_and_reload(page)
    roll_back_to_version_1(page)
    publish_with_the_dialog(page)
