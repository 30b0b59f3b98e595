"""Words where the pages used to show ids and English (issue #15): a comparison's operator in the
version history, event details in the member's timeline, why a delivery failed, who published."""

from __future__ import annotations

import copy
import re

from api_helpers import bearer, visible_text
from connector_kit import Receiver, coupon_and_message_flow, signup

from qunflow.editor.demo import load_demo
from qunflow.editor.services import Services
from qunflow.engine.channel import ChannelRecord
from qunflow.engine.event import convert_events
from qunflow.engine.member import GroupRecord, StaffRecord
from qunflow.engine.outbox import open_dispatcher

AT = "2026-11-22T10:00:00+08:00"
SPEND = {
    "id": "spend",
    "name": "消费分层",
    "settings": {"goal": {"event": "purchase", "where": [{"field": "data.amount", "op": "gte", "value": 50}],
                          "within": "P7D"}},
    "nodes": [
        {"id": "buy", "type": "trigger.purchase", "config": {}, "label": "下单"},
        {"id": "big", "type": "condition.attribute", "label": "累计满 500 元？",
         "config": {"field": "member.total_spend", "op": "gte", "value": 500}},
        {"id": "vip", "type": "action.add_tag", "config": {"tags": ["vip"]}},
    ],
    "edges": [{"from": "buy", "to": "big"}, {"from": "big", "port": "true", "to": "vip"}],
}  # fmt: skip


def test_the_history_says_a_comparison_in_words_not_its_operator_id(client, sign_in, services) -> None:
    sign_in("operator")
    services.engine.deploy(SPEND)
    changed = copy.deepcopy(SPEND)
    changed["nodes"][1]["config"]["op"] = "lte"
    changed["settings"]["goal"]["where"][0]["op"] = "in"
    changed["settings"]["goal"]["where"][0]["value"] = [50, 100]
    services.engine.deploy(changed)

    page = visible_text(client.get("/flows/spend/history").text)
    v2 = page[page.index("版本 2") : page.index("版本 1")]
    assert re.search(r"累计满 500 元？ · 比较\s*:\s*不少于\s*→\s*不超过", v2), v2
    assert re.search(r"比较: 不少于；.*→.*比较: 属于其中之一", v2), v2
    assert not re.search(r"\b(gte|lte|in)\b", v2), v2

    client.cookies.set("qunflow_lang", "en")
    english = visible_text(client.get("/flows/spend/history").text)
    assert re.search(r"at least\s*→\s*at most", english), english


def test_the_history_says_a_goals_event_and_exit_in_words(client, sign_in, services) -> None:
    sign_in("operator")
    services.engine.deploy(SPEND)
    changed = copy.deepcopy(SPEND)
    changed["settings"]["goal"] = {"event": "message", "within": "P7D", "exit": False}
    services.engine.deploy(changed)

    page = visible_text(client.get("/flows/spend/history").text)
    v2 = page[page.index("版本 2") : page.index("版本 1")]
    assert "事件类型: 下单" in v2 and "事件类型: 发言" in v2, v2
    assert "达成后退出流程: 否" in v2, v2
    assert not re.search(r"\b(purchase|message|Exit)\b", v2), v2


def test_a_timeline_says_event_details_in_words_and_names(client, sign_in, services: Services) -> None:
    csrf = sign_in("operator")
    services.store.put_groups([GroupRecord("g-1", "福利群")])
    services.store.put_staff([StaffRecord("s-wang", "王店长")])
    services.store.put_channel(ChannelRecord("qr-live", "直播间活码"), services.now_us())
    at = AT
    events = [
        {"id": "e-1", "type": "contact_added", "member": "m-1", "channel": "qr-live", "at": at,
         "data": {"staff": "s-wang", "welcome_code": "WC-SECRET-1"}, "profile": {"name": "小林"}},
        {"id": "e-2", "type": "member_joined", "member": "m-1", "group": "g-1", "channel": "qr-live",
         "at": at, "data": {"join_scene": "3"}},
        {"id": "e-3", "type": "message", "member": "m-1", "group": "g-1", "at": at, "data": {"text": "你好"}},
        {"id": "e-4", "type": "purchase", "member": "m-1", "at": at,
         "data": {"amount": 99, "product": "面霜"}},
        {"id": "e-5", "type": "contact_deleted", "member": "m-1", "at": at,
         "data": {"by": "customer", "staff": "s-wang"}},
        {"id": "e-6", "type": "signup", "member": "m-1", "at": at, "data": {"plan": "gold"}},
    ]  # fmt: skip
    services.engine.ingest(convert_events(events))
    edit = {"members": ["m-1"], "add_tags": ["vip"], "blacklist": True}
    headers = {"X-CSRF-Token": csrf}
    assert client.post("/api/members/bulk", json=edit, headers=headers).status_code == 200

    page = visible_text(client.get("/members/m-1").text)
    timeline = page[page.index("时间线") :]
    for said in ("员工：王店长", "渠道：直播间活码", "群：福利群", "入群方式：扫描群二维码", "内容：你好",
                 "金额：99", "商品：面霜", "删除方：客户", "plan：gold", "人工修改", "加标签：vip",
                 "加入黑名单", "操作人：operator-user"):  # fmt: skip
        assert said in timeline, (said, timeline)
    assert not re.search(r"\b(group|channel|text|amount|product|staff|by|add_tags|blacklist):", timeline)
    assert "WC-SECRET-1" not in timeline and "s-wang" not in timeline and "qr-live" not in timeline

    client.cookies.set("qunflow_lang", "en")
    english = visible_text(client.get("/members/m-1").text)
    assert "group: 福利群" in english and "amount: 99" in english and "Tags added: vip" in english


def test_a_failed_delivery_says_what_happened_in_the_operators_words(
    client, sign_in, services, tokens
) -> None:
    sign_in("operator")
    admin = bearer(tokens["admin"])
    receiver = Receiver()
    receiver.status = 400  # the coupon system refuses the call for good
    try:
        options = {"secret": "webhook-signing-secret", "url": receiver.url, "allow": ["127.0.0.1/32"]}
        assert client.put("/api/connectors/webhook", json=options, headers=admin).status_code == 200
        assert (
            client.put("/api/connectors/routes", json={"coupon": "webhook"}, headers=admin).status_code == 200
        )
        flow = coupon_and_message_flow()
        flow["nodes"], flow["edges"] = flow["nodes"][:2], flow["edges"][:1]
        services.engine.deploy(flow)
        services.engine.ingest(convert_events([signup("e-1", "m-1")]))
        assert (
            open_dispatcher(services.store, services.clock, settings=services.connectors).drain().failed == 1
        )
    finally:
        receiver.close()

    page = visible_text(client.get("/deliveries").text)
    assert "对方服务器拒绝了请求（HTTP 400，127.0.0.1）" in page, page
    assert "HTTP 400 from" not in page


def test_who_published_or_changed_is_a_name_not_a_token_id(client, sign_in, services: Services) -> None:
    csrf = sign_in("operator")
    bench = bearer(services.accounts.create_token("operator", services.now_us(), label="bench")[1])
    bare, bare_token = services.accounts.create_token("operator", services.now_us())
    assert client.post("/api/flows", json=SPEND, headers=bench).status_code == 200
    assert client.post("/api/flows/spend/publish", headers=bench).status_code == 200
    changed = {**SPEND, "name": "消费分层 2"}
    assert client.post("/api/flows", json=changed, headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.post("/api/flows/spend/publish", headers=bearer(bare_token)).status_code == 200
    assert client.post("/api/flows/spend/publish", headers={"X-CSRF-Token": csrf}).status_code == 200

    history = visible_text(client.get("/flows/spend/history").text)
    assert "申请人：API 令牌：bench" in history[history.index("版本 1") :], history
    assert f"申请人：API 令牌 #{bare.id}" in history[history.index("版本 2") : history.index("版本 1")]
    assert "申请人：operator-user" in history[history.index("版本 3") : history.index("版本 2")]
    assert "token:" not in history

    services.engine.ingest(convert_events([{"id": "e-1", "type": "signup", "member": "m-1", "at": AT}]))
    edit = {"members": ["m-1"], "add_tags": ["vip"]}
    assert client.post("/api/members/bulk", json=edit, headers=bench).status_code == 200
    timeline = visible_text(client.get("/members/m-1").text)
    assert "操作人：API 令牌：bench" in timeline and "token:" not in timeline


def test_every_demo_member_has_a_name_so_no_message_starts_with_a_comma(services: Services) -> None:
    assert load_demo(services) is not None
    assert [m.id for m in services.store.all_members().values() if not m.name] == []
    texts = [d["payload"].get("text") or "" for d in services.store.deliveries()]
    assert texts and not [t for t in texts if t.startswith(("，", ",", "！", "、"))]
    # The anti-spam warning names the member it warns, as its template says.
    assert any(t.startswith("推广号，本群禁止发广告") for t in texts), texts
