"""The community settings page and approval from the flows list, in a real Chromium under the strict
Content-Security-Policy (DESIGN §18)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_kit import csrf_token, operator_page, sign_in
from browser_server import chromium_missing, running_server

from qunflow.editor.accounts import Accounts
from qunflow.engine import Store
from qunflow.engine.member import MemberRecord

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")
if chromium_missing() is None:
    from playwright.sync_api import Browser, expect

ADMIN = ("boss", "boss password 123")
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""
DATABASE: dict[str, Path] = {}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("server") / "qunflow.db"
    with running_server(database) as url:
        store = Store.open(f"sqlite:///{database}")
        Accounts(store).create_user(*ADMIN, "admin", 0)
        store.put_members([MemberRecord(id=f"m-{i}", tags=["vip"]).to_member(0) for i in range(3)])
        store.close()
        DATABASE[url] = database
        yield url


def test_an_admin_sets_the_budget_and_approves_an_operators_large_send(
    browser: Browser, base_url: str
) -> None:
    context = browser.new_context(base_url=base_url, locale="zh-CN", viewport={"width": 1366, "height": 900})
    context.add_init_script(RECORD_VIOLATIONS)
    admin = context.new_page()
    errors: list[str] = []
    admin.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(admin, "/admin/settings", user=ADMIN)
    admin.fill("#qf-budget-messages", "2")
    admin.fill("#qf-budget-per", "P1D")
    admin.fill("#qf-min-reach", "3")
    admin.click("#qf-settings-save")
    expect(admin.locator("#qf-settings-saved")).to_be_visible()
    expect(admin.locator("#qf-budget-messages")).to_have_value("2")
    assert admin.evaluate("window.__violations") == []

    flow = {
        "id": "promo",
        "name": "大促",
        "nodes": [
            {"id": "daily", "type": "trigger.schedule",
             "config": {"cron": "0 10 * * *", "audience": {"tags_any": ["vip"]}}},
            {"id": "hi", "type": "action.send_message", "config": {"text": "大促来了"}},
        ],
        "edges": [{"from": "daily", "to": "hi"}],
    }  # fmt: skip
    with operator_page(browser, base_url) as operator:
        headers = {"X-CSRF-Token": csrf_token(operator)}
        assert operator.request.post("/api/flows", data=flow, headers=headers).ok
        answer = operator.request.post("/api/flows/promo/publish", headers=headers)
        assert answer.status == 202 and answer.json()["status"] == "pending_approval"
        # The operator sees what waits, but no approve button.
        operator.goto("/flows")
        expect(operator.locator("#flow-promo")).to_contain_text("版本 1 待审批")
        expect(operator.locator("#approve-promo")).to_have_count(0)

    admin.goto("/flows")
    expect(admin.locator("#qf-approvals")).to_contain_text("有 1 个流程等待审批")
    admin.click("#approve-promo")
    expect(admin.locator("#flow-promo .qf-status-live")).to_be_visible()
    expect(admin.locator("#approve-promo")).to_have_count(0)
    admin.goto("/flows")
    expect(admin.locator("#qf-approvals")).to_have_count(0)
    assert admin.evaluate("window.__violations") == []
    context.close()
    assert not errors, errors
