"""The staff task inbox in a real Chromium (issue #15): an operator opens 任务, marks a member's task
done, and the member's timeline shows the run gone on to the next step; one task's own page (where
WeCom app messages link) skips another."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from browser_kit import chromium, operator_page
from browser_server import chromium_missing, running_server

from qunflow.editor.services import Services
from qunflow.engine.event import convert_events
from qunflow.engine.member import StaffRecord

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

if chromium_missing() is None:
    from playwright.sync_api import Page, expect

FLOW = {
    "id": "care",
    "name": "沉默回访",
    "nodes": [
        {"id": "t", "type": "trigger.event", "config": {"event": "silent"}},
        {"id": "call", "type": "action.assign_task", "label": "回访电话",
         "config": {"title": "给 {{ member.name }} 打回访电话", "staff": "s-7", "wait": True}},
        {"id": "tag", "type": "action.add_tag", "label": "标记已回访", "config": {"tags": ["called"]}},
        {"id": "later", "type": "action.add_tag", "label": "改日再联系", "config": {"tags": ["later"]}},
    ],
    "edges": [
        {"from": "t", "to": "call"},
        {"from": "call", "port": "done", "to": "tag"},
        {"from": "call", "port": "skipped", "to": "later"},
    ],
}  # fmt: skip


def _seed(database: Path) -> None:
    services = Services.open(f"sqlite:///{database}")
    services.store.migrate()
    services.store.put_staff([StaffRecord("s-7", "王小明")])
    services.engine.deploy(FLOW)
    at = datetime.now(UTC).isoformat()
    silent = [
        {"id": f"e-{i}", "type": "silent", "at": at, "member": f"m-{i}", "profile": {"name": name}}
        for i, name in ((1, "小林"), (2, "阿强"))
    ]
    services.engine.ingest(convert_events(silent))
    services.close()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    database = tmp_path / "qunflow.db"
    _seed(database)
    with running_server(database) as base_url, chromium() as browser:
        with operator_page(browser, base_url, next_path="/tasks", height=900, console=True) as page:
            yield page


def test_an_operator_marks_a_task_done_and_the_run_goes_on(page: Page) -> None:
    expect(page.locator("nav a[aria-current=page]")).to_have_text("任务")
    rows = page.locator("#qf-tasks tbody tr")
    expect(rows).to_have_count(2)
    first = rows.filter(has_text="小林")
    expect(first).to_contain_text("给 小林 打回访电话")
    expect(first).to_contain_text("沉默回访")
    expect(first).to_contain_text("王小明")
    page.select_option("select[name=staff]", "s-7")
    expect(rows).to_have_count(2)

    first.get_by_role("button", name="完成").click()
    expect(first).to_contain_text("已完成")
    expect(first.get_by_role("button")).to_have_count(0)

    first.get_by_role("link", name="小林", exact=True).click()
    page.wait_for_url("**/members/m-1")
    timeline = page.locator(".qf-timeline")
    expect(timeline).to_contain_text("员工完成任务")
    expect(timeline.locator("li.qf-timeline-event").first).to_contain_text("回访电话")
    expect(timeline.locator("li.qf-timeline-run")).to_contain_text("标记已回访")

    page.goto("/tasks?status=open")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("link", name="给 阿强 打回访电话").click()
    expect(page.locator("#qf-task")).to_contain_text("待处理")
    page.get_by_role("button", name="跳过").click()
    expect(page.locator("#qf-task")).to_contain_text("已跳过")
    page.goto("/members/m-2")
    expect(page.locator(".qf-timeline li.qf-timeline-run")).to_contain_text("改日再联系")
