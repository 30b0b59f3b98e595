"""The operator pages through litestar's test client: lists, editor page, history, runs and retry, member."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pytest
from api_helpers import joined, visible_text, welcome_flow
from litestar.testing import TestClient

from qunflow.editor.services import Services
from qunflow.engine import NEXT, Context, Event, Fail, Outcome, Registry, action
from qunflow.flows import load_template

CRM = {"down": True}


class CrmLookup(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    segment: str = "all"


@action("acme.crm_lookup", title={"zh": "查询 CRM", "en": "CRM lookup"}, icon="database")
def crm_lookup(ctx: Context, config: CrmLookup) -> Outcome:
    return Fail("CRM is down") if CRM["down"] else NEXT


@pytest.fixture
def registry(registry: Registry) -> Registry:
    registry.add(crm_lookup)
    return registry


def embedded(page: str, element_id: str) -> Any:
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', page, re.S)
    assert match, f"no #{element_id} in the page"
    return msgspec.json.decode(match.group(1))


def csrf_of(page: str) -> str:
    match = re.search(r'"X-CSRF-Token": "([^"]+)"', page)
    assert match
    return match.group(1)


def test_pages_need_a_session(client: TestClient) -> None:
    for path in ("/", "/flows", "/flows/welcome", "/runs", "/members/m-1", "/flows/welcome/history"):
        answer = client.get(path, headers={"Accept": "text/html"}, follow_redirects=False)
        assert answer.status_code in (303, 401), path
        assert "/login" in answer.headers.get("location", "/login")


def test_flows_list_shows_each_flow_with_its_status_and_pauses_with_htmx(client, sign_in, services) -> None:
    sign_in("operator")
    services.engine.save_draft(welcome_flow("draft-only"))
    services.engine.deploy(welcome_flow("live-one"))
    page = client.get("/flows").text
    assert '<span class="qf-user">operator-user · 运营</span>' in page  # the role in words
    assert re.search(r'id="flow-draft-only".*?草稿', page, re.S)
    assert re.search(r'id="flow-live-one".*?运行中', page, re.S)
    token = csrf_of(page)
    row = client.post("/flows/live-one/pause", headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert row.status_code == 200 and row.text.lstrip().startswith('<tr id="flow-live-one"')
    assert "已暂停" in row.text and "恢复运行" in row.text
    assert services.store.get_flow("live-one").paused
    refused = client.post("/flows/live-one/resume", headers={"HX-Request": "true"})
    assert refused.status_code == 403 and services.store.get_flow("live-one").paused


def test_a_viewer_sees_no_write_buttons_and_cannot_pause(client, sign_in, services) -> None:
    sign_in("viewer")
    services.engine.deploy(welcome_flow("live-one"))
    page = client.get("/flows").text
    assert "暂停" not in page and "/flows/new" not in page
    editor = client.get("/flows/live-one").text
    assert 'id="qf-save"' not in editor and 'id="qf-publish"' not in editor
    assert client.post("/flows/live-one/pause", headers={"X-CSRF-Token": csrf_of(page)}).status_code == 403


def test_the_editor_page_embeds_the_draft_laid_out_and_its_dynamic_ports(client, sign_in, services) -> None:
    sign_in("operator")
    flow = welcome_flow()
    flow["nodes"].append(
        {
            "id": "ab",
            "type": "condition.split",
            "config": {"branches": [{"port": "a", "percent": 50}, {"port": "b", "percent": 50}]},
        }
    )
    flow["edges"].append({"from": "coupon", "to": "ab"})
    services.engine.save_draft(flow)
    page = client.get("/flows/welcome").text
    draft = embedded(page, "qf-flow")
    assert [n["id"] for n in draft["nodes"]] == ["joined", "tag", "wait", "coupon", "ab"]
    assert all("position" in n for n in draft["nodes"])
    settings = embedded(page, "qf-page")
    assert settings["ports"] == {"ab": ["a", "b"]}
    assert settings["csrf_token"] == csrf_of(page)
    assert embedded(page, "qf-messages")["Save draft"] == "保存草稿"


def test_a_label_with_markup_is_escaped_in_the_page(client, sign_in, services) -> None:
    sign_in("operator")
    flow = welcome_flow(name="</script><script>alert(1)</script>")
    flow["nodes"][0]["label"] = "<img src=x onerror=alert(1)>"
    services.engine.save_draft(flow)
    page = client.get("/flows/welcome").text
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert embedded(page, "qf-flow")["nodes"][0]["label"] == "<img src=x onerror=alert(1)>"


def test_an_unknown_flow_opens_an_empty_canvas_named_from_the_form(client, sign_in) -> None:
    sign_in("operator")
    page = client.get("/flows").text
    answer = client.post(
        "/flows/new",
        data={"id": "fresh", "name": "新流程", "template": "", "_csrf": csrf_of(page)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    editor = client.get(answer.headers["location"]).text
    assert embedded(editor, "qf-flow") == {"id": "fresh", "name": "新流程", "nodes": [], "edges": []}
    assert embedded(editor, "qf-page")["exists"] is False


def test_a_new_flow_from_a_template_is_stored_under_its_new_id(client, sign_in, services) -> None:
    sign_in("operator")
    page = client.get("/flows").text
    # Offered by name, as an operator knows them; the id stays the form's value.
    assert '<option value="welcome-vip">模板: 新人欢迎 → VIP</option>' in page
    answer = client.post(
        "/flows/new",
        data={"id": "my-welcome", "template": "welcome-vip", "_csrf": csrf_of(page)},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/flows/my-welcome"
    assert services.store.get_flow("my-welcome").draft["nodes"] == load_template("welcome-vip")["nodes"]
    bad = client.post("/flows/new", data={"id": "no spaces", "_csrf": csrf_of(page)})
    assert bad.status_code == 422 and "id" in bad.json()["message"]
    taken = client.post(
        "/flows/new", data={"id": "my-welcome", "template": "welcome-vip", "_csrf": csrf_of(page)}
    )
    assert taken.status_code == 422 and "exists" in taken.json()["message"]
    # A browser gets the refusal as a page, in the operator's language.
    in_browser = client.post(
        "/flows/new",
        data={"id": "my-welcome", "template": "welcome-vip", "_csrf": csrf_of(page)},
        headers={"Accept": "text/html"},
    )
    assert in_browser.status_code == 422 and in_browser.headers["content-type"].startswith("text/html")
    assert "没有完成" in in_browser.text and "流程 ID 已存在" in in_browser.text
    assert "my-welcome" in in_browser.text and 'href="/flows"' in in_browser.text


def test_history_lists_versions_with_what_changed(client, sign_in, services) -> None:
    sign_in("operator")
    services.engine.deploy(welcome_flow())
    changed = welcome_flow()
    changed["nodes"][2]["config"]["duration"] = "P2DT12H"
    changed["nodes"][2]["label"] = "等一等"
    changed["settings"] = {"quiet_hours": {"start": "22:00", "end": "08:00"}}
    del changed["nodes"][3]
    changed["edges"].pop()
    services.engine.deploy(changed)
    page = visible_text(client.get("/flows/welcome/history").text)
    v2 = page[page.index("版本 2") : page.index("版本 1")]
    # In words: the node's label, the field's title, durations in days and hours, no ids or JSON.
    assert re.search(r"修改配置\s+等一等 · 时长\s*:\s*1 天\s*→\s*2 天 12 小时", v2), v2
    assert re.search(r"修改设置\s+免打扰时段\s*:\s*→\s*Start: 22:00；End: 08:00|免打扰时段", v2), v2
    assert "删除节点" in v2 and "发优惠券" in v2  # the removed node by its type's title
    assert re.search(r"等一等\s*→\s*发优惠券", v2), v2  # the removed edge, by labels
    assert '{"' not in page and "P1D" not in page and "P2DT12H" not in page
    assert "第一个发布的版本" in page[page.index("版本 1") :]
    services.engine.save_draft(welcome_flow("unpublished"))
    assert "还没有发布过" in client.get("/flows/unpublished/history").text


def test_an_earlier_version_is_rolled_back_to_from_the_history(client, sign_in, services) -> None:
    sign_in("operator")
    services.engine.deploy(welcome_flow())
    changed = welcome_flow()
    changed["nodes"][2]["config"]["duration"] = "P2D"
    services.engine.deploy(changed)
    page = client.get("/flows/welcome/history").text
    v1 = page[page.index('id="v1"') :]
    assert "回滚到此版本" in v1 and "回滚到此版本" not in page[page.index('id="v2"') : page.index('id="v1"')]
    answer = client.post(
        "/flows/welcome/rollback", data={"version": "1", "_csrf": csrf_of(page)}, follow_redirects=False
    )
    assert answer.status_code == 303 and "rolled_back=1" in answer.headers["location"]
    record = services.store.get_flow("welcome")
    assert record.live_version == 3
    assert services.store.version_document("welcome", 3) == services.store.version_document("welcome", 1)
    assert record.draft["nodes"][2]["config"]["duration"] == "P1D"  # no unpublished work: the draft follows
    shown = client.get(answer.headers["location"]).text
    assert "版本 1 已重新上线（发布为版本 3）" in shown
    bad = client.post("/flows/welcome/rollback", data={"version": "x", "_csrf": csrf_of(page)})
    assert bad.status_code == 422 and "version" in bad.text


def test_rollback_through_the_api_keeps_unpublished_work(client, sign_in, services) -> None:
    headers = {"X-CSRF-Token": sign_in("operator")}
    services.engine.deploy(welcome_flow())
    changed = welcome_flow()
    changed["nodes"][2]["config"]["duration"] = "P2D"
    services.engine.deploy(changed)
    work = welcome_flow()
    work["nodes"][2]["config"]["duration"] = "P5D"
    services.engine.save_draft(work)
    answer = client.post("/api/flows/welcome/rollback", json={"version": 1}, headers=headers)
    assert answer.status_code == 200 and answer.json() == {"flow": "welcome", "version": 3}
    record = services.store.get_flow("welcome")
    assert record.live_version == 3 and record.draft["nodes"][2]["config"]["duration"] == "P5D"
    missing = client.post("/api/flows/welcome/rollback", json={"version": 9}, headers=headers)
    assert missing.status_code == 404
    zero = client.post("/api/flows/welcome/rollback", json={"version": 0}, headers=headers)
    assert zero.status_code == 422 and "version" in zero.text
    assert services.store.get_flow("welcome").live_version == 3  # nothing half-done


def test_a_failed_run_is_listed_and_retried_from_the_runs_page(client, sign_in, services: Services) -> None:
    sign_in("operator")
    flow = welcome_flow()
    flow["nodes"].insert(1, {"id": "crm", "type": "acme.crm_lookup", "config": {}})
    flow["edges"][0] = {"from": "joined", "to": "crm"}
    flow["edges"].append({"from": "crm", "to": "tag"})
    services.engine.deploy(flow)
    CRM["down"] = True
    services.engine.ingest([msgspec.convert(joined("e-1", "m-1"), type=Event)])
    page = client.get("/runs?status=failed").text
    run_id = re.search(r'<tr id="run-(\d+)"', page).group(1)
    assert "CRM is down" in page and f'hx-post="/runs/{run_id}/retry"' in page
    CRM["down"] = False
    row = client.post(f"/runs/{run_id}/retry", headers={"X-CSRF-Token": csrf_of(page), "HX-Request": "true"})
    assert row.status_code == 200 and "失败" not in row.text and "retry" not in row.text
    assert "等待中" in row.text  # on to the one-day wait


def test_the_member_page_shows_a_timeline(client, sign_in, services: Services) -> None:
    sign_in("operator")
    short = welcome_flow("short")
    short["nodes"], short["edges"] = short["nodes"][:2], short["edges"][:1]
    services.engine.deploy(short)  # joined → tag: the run ends at once
    services.engine.deploy(welcome_flow())  # ... → wait: the run waits
    services.engine.ingest([msgspec.convert(joined("e-1", "m-1"), type=Event)])
    page = client.get("/members/m-1")
    assert page.status_code == 200
    assert "小林" in page.text and "new" in page.text
    timeline = page.text[page.text.index('class="qf-timeline"') :]
    assert "入群" in timeline and "member_joined" not in timeline  # the event in words
    assert re.search(r'qf-timeline-run.*?href="/flows/short">欢迎</a>.*?已完成', timeline, re.S)
    assert re.search(r'qf-timeline-run.*?href="/flows/welcome">欢迎</a>.*?等待中', timeline, re.S)


def test_a_page_for_something_not_there_is_a_404_page_in_the_operators_language(client, sign_in) -> None:
    sign_in("operator")
    for path, said in (
        ("/members/m-nobody", "找不到成员 m-nobody"),
        ("/flows/nope/history", "找不到流程 nope"),
    ):
        answer = client.get(path, headers={"Accept": "text/html"})
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/html")
        assert said in answer.text and 'href="/flows"' in answer.text
    client.get("/lang/en")
    assert "No member m-nobody" in client.get("/members/m-nobody").text
    client.get("/lang/zh")
    # The API answers JSON as before.
    assert client.get("/api/members/m-nobody").json()["error"] == "not_found"


def test_the_language_switch_remembers_english(client, sign_in) -> None:
    sign_in("operator")
    answer = client.get("/lang/en?next=/runs", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/runs"
    assert "Runs" in client.get("/runs").text and "旅程" not in client.get("/runs").text
    assert (
        client.get("/lang/en?next=https://evil.example/", follow_redirects=False).headers["location"] == "/"
    )
    client.get("/lang/zh")
    assert "旅程" in client.get("/runs").text
