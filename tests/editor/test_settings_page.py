"""The community settings page and the approval notice for admins (DESIGN §18)."""

from __future__ import annotations

import re

from api_helpers import bearer
from test_api_settings_approval import add_members, broadcast_flow
from test_pages import csrf_of

from qunflow.editor.services import Services
from qunflow.engine.community_settings import stored_settings


def no_inline_code(page: str) -> None:
    """The strict Content-Security-Policy allows no inline script, style or handler."""
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert not re.search(r"\s(style|on[a-z]+)=", page)


def test_an_admin_changes_the_settings_on_the_page(client, sign_in, services: Services) -> None:
    sign_in("admin")
    page = client.get("/admin/settings")
    assert page.status_code == 200
    assert (
        'id="qf-settings"' in page.text and "社群设置" in page.text and 'href="/admin/settings"' in page.text
    )
    no_inline_code(page.text)
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf_of(page.text)}
    form = {"budget_messages": "2", "budget_per": "P1D", "min_reach": "500", "calendar": "none"}
    answer = client.post("/admin/settings", data=form, headers=headers)
    assert answer.status_code == 200, answer.text
    assert "已保存" in answer.text and 'value="2"' in answer.text and 'value="500"' in answer.text
    settings = stored_settings(services.store)
    assert (settings.touch_budget.messages, settings.approval.min_reach, settings.calendar) == (
        2,
        500,
        "none",
    )

    refused = client.post("/admin/settings", data={**form, "budget_messages": "0"}, headers=headers)
    assert refused.status_code == 422 and refused.json()["field"] == "touch_budget.messages"
    refused = client.post("/admin/settings", data={**form, "budget_per": "soon"}, headers=headers)
    assert refused.status_code == 422 and refused.json()["field"] == "touch_budget.per"
    # Emptied, a setting is off.
    answer = client.post(
        "/admin/settings", data={**form, "budget_messages": "", "budget_per": ""}, headers=headers
    )
    assert stored_settings(services.store).touch_budget is None


def test_only_admins_see_the_settings_page(client, sign_in) -> None:
    sign_in("operator")
    assert client.get("/admin/settings").status_code == 403
    assert 'href="/admin/settings"' not in client.get("/flows").text


def test_admins_are_told_what_waits_for_approval_and_approve_from_the_list(
    client, sign_in, services: Services
) -> None:
    add_members(services, 4, ["vip"])
    services.store.put_settings({"approval": '{"min_reach":2}'}, services.now_us())
    operator = bearer(services.accounts.create_token("operator", services.now_us())[1])
    client.post("/api/flows", json=broadcast_flow(), headers=operator)
    assert client.post("/api/flows/promo/publish", headers=operator).status_code == 202

    sign_in("admin")
    page = client.get("/flows").text
    assert "有 1 个流程等待审批" in page and "版本 1 待审批" in page and 'id="approve-promo"' in page
    no_inline_code(page)
    row = client.post("/flows/promo/approve", headers={"HX-Request": "true", "X-CSRF-Token": csrf_of(page)})
    assert row.status_code == 200, row.text
    assert 'id="approve-promo"' not in row.text and "qf-status-live" in row.text
    assert "等待审批" not in client.get("/flows").text
    history = client.get("/flows/promo/history").text
    assert "已批准" in history and "admin-user" in history


def test_a_running_engine_takes_up_a_new_budget_and_the_timeline_says_why_a_message_waits(
    client, sign_in, services: Services, clock
) -> None:
    import msgspec

    from qunflow.engine import Event

    services.engine.deploy(
        {
            "id": "twice",
            "name": "两次问候",
            "settings": {"reentry": "always"},
            "nodes": [
                {"id": "t", "type": "trigger.event", "config": {"event": "go"}},
                {"id": "a", "type": "action.send_message", "config": {"text": "一"}},
                {"id": "b", "type": "action.send_message", "config": {"text": "二"}},
            ],
            "edges": [{"from": "t", "to": "a"}, {"from": "a", "to": "b"}],
        }
    )

    def go(event_id: str) -> None:
        at = clock.now().isoformat()
        services.engine.ingest(
            [msgspec.convert({"id": event_id, "type": "go", "member": "m-1", "at": at}, Event)]
        )
        services.run_due()

    go("e-1")  # no budget yet: both messages at once
    assert len(services.store.deliveries(member_id="m-1")) == 2
    # The same engine, not restarted, sees the budget from its next batch on.
    services.store.put_settings({"touch_budget": '{"messages":3,"per":"P1D"}'}, services.now_us())
    go("e-2")
    made = services.store.deliveries(member_id="m-1")
    assert sorted(d["node"] for d in made) == ["a", "a", "b"]  # the third touch of the day; `b` waits
    sign_in("operator")
    page = client.get("/members/m-1").text
    assert "触达预算已满，等到" in page and "再发" in page
