"""`POST /api/flows/{flow}/nodes/{node}/test-send` (测试发送, issue #15): a node's message from the draft,
rendered as the engine renders it, sent now through the connector routed for its kind — recorded while
none is, sent over loopback through the webhook, handed to a (fake) WeCom as a mass send awaiting the
staff member's tap — kept as a delivery marked as a test, and counted by no frequency cap, touch
budget, quota ledger, report or flow counter. Refusals name the field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from api_helpers import bearer
from connector_kit import Receiver
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import select

from qunflow.editor.services import Services
from qunflow.engine import SimClock
from qunflow.engine.connectors.wecom.fake import FakeWecom
from qunflow.engine.connectors.wecom.ledger import mass_send_usage
from qunflow.engine.outbox import open_dispatcher
from qunflow.engine.store import schema as t

SECRET = "webhook-signing-secret"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
AT = "2026-11-22T10:00:00+08:00"

FLOW: dict[str, Any] = {
    "id": "care",
    "name": "新人关怀",
    "settings": {"frequency_cap": {"messages": 1, "per": "P1D"}},
    "nodes": [
        {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
        {"id": "hello", "type": "action.send_message", "label": "问候",
         "config": {"text": "{{ member.name }}，欢迎！你有 {{ member.points }} 积分"}},
        {"id": "post", "type": "action.send_message", "label": "群公告",
         "config": {"text": "{{ group.name }}：今晚八点开播", "to": "group", "group": "g-1"}},
        {"id": "tag", "type": "action.add_tag", "label": "打标签", "config": {"tags": ["cared"]}},
    ],
    "edges": [{"from": "start", "to": "hello"}, {"from": "hello", "to": "post"},
              {"from": "post", "to": "tag"}],
}  # fmt: skip


def path(node: str, flow: str = "care") -> str:
    return f"/api/flows/{flow}/nodes/{node}/test-send"


@pytest.fixture
def admin(services: Services) -> dict[str, str]:
    return bearer(services.accounts.create_token("admin", services.now_us())[1])


@pytest.fixture
def operator(services: Services) -> dict[str, str]:
    return bearer(services.accounts.create_token("operator", services.now_us())[1])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def seed(client: TestClient[Litestar], headers: dict[str, str], publish: bool = True) -> None:
    """The flow (published, so a real run can be compared), member 小林 (m-1, 30 points), group 福利群."""
    assert client.post("/api/flows", json=FLOW, headers=headers).status_code == 200
    if publish:
        assert client.post("/api/flows/care/publish", headers=headers).status_code == 200
    assert (
        client.post("/api/groups", json={"id": "g-1", "name": "福利群"}, headers=headers).status_code == 200
    )
    profile = {"name": "小林", "attributes": {"city": "上海"}}
    event = {"id": "e-0", "type": "member_updated", "member": "m-1", "at": AT, "profile": profile}
    assert client.post("/api/events", json=event, headers=headers).status_code == 202


def route_to_webhook(client: TestClient[Litestar], admin: dict[str, str], receiver: Receiver) -> None:
    options = {"secret": SECRET, "url": receiver.url, "allow": ["127.0.0.1/32"]}
    assert client.put("/api/connectors/webhook", json=options, headers=admin).status_code == 200
    assert client.put("/api/connectors/routes", json={"message": "webhook"}, headers=admin).status_code == 200


def counted(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    """Every counter a delivery could move: the daily rollups (reports), the flows' node counters, the
    goal ledgers; and the touch index (the touch budget reads `touch`)."""
    tables = (t.daily_stats, t.node_counts, t.goal_journeys, t.flow_days)
    with services.store.engine.connect() as conn:
        found = {table.name: sorted(map(tuple, conn.execute(select(table)))) for table in tables}
        found["touches"] = sorted(
            map(tuple, conn.execute(select(t.deliveries.c.id).where(t.deliveries.c.touch)))
        )
    return found


def test_with_no_connector_a_test_send_is_recorded_and_shown_as_a_test(
    client: TestClient[Litestar], operator: dict[str, str], admin: dict[str, str], services: Services
) -> None:
    seed(client, operator)
    # The engine's own message for 小林, by a real run of the published flow.
    client.post(
        "/api/events", json={"id": "e-1", "type": "signup", "member": "m-1", "at": AT}, headers=operator
    )
    real = {d["node"]: d for d in services.store.deliveries() if not d["test"]}

    answer = client.post(path("hello"), json={"member": "m-1"}, headers=operator)

    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["status"] == "recorded"
    assert found["message"].startswith("已记录（未发送）")
    delivery = found["delivery"]
    assert delivery["test"] is True and delivery["member"] == "m-1" and delivery["run"] is None
    assert (delivery["flow"], delivery["node"], delivery["kind"]) == ("care", "hello", "message")
    assert (
        delivery["payload"] == real["hello"]["payload"] == {"text": "小林，欢迎！你有 0 积分", "to": "member"}
    )
    assert found["link"] == f"/deliveries?flow=care#delivery-{delivery['id']}"

    # A group post is rendered for its group, and goes to the chosen member, not into the group.
    post = client.post(path("post"), json={"member": "m-1"}, headers=operator).json()["delivery"]
    assert real["post"]["payload"]["text"] == post["payload"]["text"] == "福利群：今晚八点开播"
    assert post["payload"] == {"text": "福利群：今晚八点开播", "to": "member"} and post["member"] == "m-1"

    listed = client.get("/api/deliveries", params={"flow": "care"}, headers=operator).json()["items"]
    assert sorted((d["node"], d["test"]) for d in listed) == [
        ("hello", False), ("hello", True), ("post", False), ("post", True),
    ]  # fmt: skip
    page = client.get("/deliveries", params={"flow": "care"}, headers=operator).text
    row = page.split(f'id="delivery-{delivery["id"]}"')[1].split("</tr>")[0]
    assert "新人关怀" in row and "问候" in row and "测试发送" in row and "已记录（未发送）" in row
    assert "小林" in row and "已发送" not in row
    timeline = client.get("/members/m-1", headers=operator).text
    assert "测试发送" in timeline


def test_a_test_send_goes_out_through_the_webhook_routed_for_messages(
    client: TestClient[Litestar],
    operator: dict[str, str],
    admin: dict[str, str],
    services: Services,
    receiver: Receiver,
) -> None:
    seed(client, operator)
    route_to_webhook(client, admin, receiver)

    answer = client.post(path("hello"), json={"member": "m-1"}, headers=operator)

    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "sent" and answer.json()["message"] == "已发送。"
    [request] = receiver.requests
    body = request["body"]
    assert body["kind"] == "message" and body["member"] == "m-1" and body["flow"] == "care"
    assert body["payload"] == {"text": "小林，欢迎！你有 0 积分", "to": "member"}
    assert body["key"].startswith("test:")
    [stored] = services.store.deliveries(node="hello")
    assert (stored["status"], stored["test"]) == ("sent", True)

    # To a staff account: the same message, addressed to them; named on the deliveries page.
    client.post("/api/staff", json={"id": "s-7", "name": "王小明"}, headers=operator)
    staff = client.post(path("hello"), json={"staff": "s-7", "member": "m-1"}, headers=operator).json()
    assert staff["status"] == "sent" and staff["delivery"]["member"] is None
    assert receiver.requests[1]["body"]["payload"] == {
        "text": "小林，欢迎！你有 0 积分",
        "to": "staff",
        "staff": "s-7",
    }
    page = client.get("/deliveries", headers=operator).text
    assert "员工：王小明" in page.split(f'id="delivery-{staff["delivery"]["id"]}"')[1].split("</tr>")[0]


def test_a_failed_test_send_is_retried_by_the_workers_and_stays_a_test(
    client: TestClient[Litestar],
    operator: dict[str, str],
    admin: dict[str, str],
    services: Services,
    clock: SimClock,
) -> None:
    seed(client, operator)
    gone = Receiver()
    gone.close()  # nothing listens there any more: the call fails, and may be tried again
    route_to_webhook(client, admin, gone)
    before = counted(services)

    answer = client.post(path("hello"), json={"member": "m-1"}, headers=operator).json()

    assert answer["status"] == "pending"
    assert answer["message"].startswith("暂未发出：稍后会自动重试")
    receiver = Receiver()
    try:
        route_to_webhook(client, admin, receiver)
        clock.advance_to(clock.now() + timedelta(minutes=1))
        done = open_dispatcher(
            services.store, services.clock, settings=services.connectors, threads=1
        ).drain()
        assert done.sent == 1
        [request] = receiver.requests
        assert request["body"]["key"].startswith("test:") and request["body"]["member"] == "m-1"
        assert request["body"]["payload"]["text"] == "小林，欢迎！你有 0 积分"
    finally:
        receiver.close()
    [stored] = services.store.deliveries(node="hello")
    assert (stored["status"], stored["test"], stored["attempts"]) == ("sent", True, 2)
    assert counted(services) == before


def test_a_test_send_counts_toward_no_cap_budget_report_or_counter(
    client: TestClient[Litestar],
    operator: dict[str, str],
    admin: dict[str, str],
    services: Services,
    receiver: Receiver,
) -> None:
    seed(client, operator)
    route_to_webhook(client, admin, receiver)
    budget = {"touch_budget": {"messages": 1, "per": "P1D"}}
    assert client.put("/api/settings", json=budget, headers=admin).status_code == 200
    before = counted(services)
    report = {"from": "2026-11-22", "to": "2026-11-22"}
    flows_before = client.get("/api/reports/flows", params=report, headers=operator).json()["rows"]
    deliveries_before = client.get("/api/reports/deliveries", params=report, headers=operator).json()["rows"]
    stats_before = client.get("/api/flows/care/stats", headers=operator).json()

    sent = client.post(path("hello"), json={"member": "m-1"}, headers=operator).json()
    assert sent["status"] == "sent"

    assert counted(services) == before
    assert client.get("/api/reports/flows", params=report, headers=operator).json()["rows"] == flows_before
    assert (
        client.get("/api/reports/deliveries", params=report, headers=operator).json()["rows"]
        == deliveries_before
    )
    assert client.get("/api/flows/care/stats", headers=operator).json() == stats_before
    assert services.store.delivery_counts() == {}

    # The member's own journey is not held back: the cap (1 a day) and the budget (1 a day) still
    # have room for the flow's real message.
    client.post(
        "/api/events", json={"id": "e-1", "type": "signup", "member": "m-1", "at": AT}, headers=operator
    )
    [run] = services.store.runs(flow_id="care")
    assert run.status == "done"
    real = [d for d in services.store.deliveries(node="hello") if not d["test"]]
    assert len(real) == 1 and real[0]["payload"]["text"] == "小林，欢迎！你有 0 积分"


@pytest.fixture
def fake() -> Iterator[FakeWecom]:
    with FakeWecom() as fake:
        fake.add_staff("zhangsan", "张三")
        fake.add_customer("wm-1", "zhangsan", name="王小明")
        yield fake


def test_through_wecom_a_test_awaits_the_staff_tap_and_uses_no_quota(
    client: TestClient[Litestar],
    operator: dict[str, str],
    admin: dict[str, str],
    services: Services,
    fake: FakeWecom,
) -> None:
    options = {
        "corp_id": fake.corp_id, "secret": fake.secret, "agent_id": fake.agent_id, "token": "callback-token",
        "encoding_aes_key": AES_KEY, "api_base": fake.url, "mass_send_limit": {"count": 1, "per": "day"},
    }  # fmt: skip
    assert client.put("/api/connectors/wecom", json=options, headers=admin).status_code == 200
    assert client.put("/api/connectors/routes", json={"message": "wecom"}, headers=admin).status_code == 200
    seed(client, operator)
    client.post("/api/staff", json={"id": "zhangsan", "name": "张三"}, headers=operator)
    added = {"id": "e-add", "type": "contact_added", "member": "wm-1", "at": AT,
             "data": {"staff": "zhangsan"}, "profile": {"name": "王小明"}}  # fmt: skip
    assert client.post("/api/events", json=added, headers=operator).status_code == 202

    answer = client.post(path("hello"), json={"member": "wm-1"}, headers=operator).json()

    assert answer["status"] == "awaiting_confirmation"
    assert "员工在企业微信中点击“发送”后才会发出" in answer["message"]
    [task] = fake.tasks.values()
    assert task.recipients == ["wm-1"] and task.sender == "zhangsan"
    assert task.text == {"content": "王小明，欢迎！你有 0 积分"}
    assert mass_send_usage(services.store, "wm-1", 1, "day", services.clock.now())[0] == 0

    # The member's one mass send of the day is still there for the flow's real message.
    client.post(
        "/api/events", json={"id": "e-1", "type": "signup", "member": "wm-1", "at": AT}, headers=operator
    )
    open_dispatcher(services.store, services.clock, settings=services.connectors, threads=1).drain()
    real = [d for d in services.store.deliveries(node="hello") if not d["test"]]
    assert [d["status"] for d in real] == ["awaiting_confirmation"]
    assert len(fake.tasks) == 2

    # To the staff account itself: an app message, sent at once.
    mine = client.post(path("hello"), json={"staff": "zhangsan", "member": "wm-1"}, headers=operator).json()
    assert mine["status"] == "sent"
    assert fake.app_messages[-1]["touser"] == "zhangsan"
    assert fake.app_messages[-1]["text"] == {"content": "王小明，欢迎！你有 0 积分"}


def test_refusals_name_the_field_in_both_languages_and_store_nothing(
    client: TestClient[Litestar], operator: dict[str, str], services: Services
) -> None:
    seed(client, operator, publish=False)
    # A message naming a content item (话术库) that is not there.
    oops = {"id": "oops", "type": "action.send_message", "config": {"content": "gone"}}
    broken = {**FLOW, "nodes": [*FLOW["nodes"], oops]}
    assert client.put("/api/flows/care/draft", json=broken, headers=operator).status_code == 200
    cases = [
        (path("hello"), {"member": "m-404"}, 404, "member", "找不到成员 m-404"),
        (path("hello"), {"staff": "s-404"}, 404, "staff", "找不到员工账号 s-404"),
        (path("hello"), {}, 422, "member", "请选择接收的成员或员工账号"),
        (path("start"), {"member": "m-1"}, 422, "node", "这个节点不发送消息，无法测试发送"),
        (path("nowhere"), {"member": "m-1"}, 404, "node", "草稿中没有节点 nowhere"),
        (path("hello", flow="lost"), {"member": "m-1"}, 404, "flow", "找不到流程 lost"),
    ]
    for url, body, status, field, zh in cases:
        answer = client.post(url, json=body, headers=operator)
        assert answer.status_code == status, (url, body, answer.text)
        assert (answer.json()["field"], answer.json()["zh"]) == (field, zh), answer.json()
        assert answer.json()["en"]
    missing = client.post(path("oops"), json={"member": "m-1"}, headers=operator)
    assert missing.status_code == 422 and missing.json()["field"] == "config.content", missing.json()
    assert "gone" in missing.json()["zh"] and "gone" in missing.json()["en"], missing.json()
    unknown = client.post(path("hello"), json={"member": "m-1", "colour": "red"}, headers=operator)
    assert unknown.status_code == 422
    wrong_type = client.post(path("hello"), json={"member": 7}, headers=operator)
    assert (wrong_type.status_code, wrong_type.json()["field"]) == (422, "member")
    viewer = bearer(services.accounts.create_token("viewer", services.now_us())[1])
    assert client.post(path("hello"), json={"member": "m-1"}, headers=viewer).status_code == 403
    assert services.store.deliveries() == []


def test_welcomes_and_broadcasts_are_test_sent_as_their_steps_render_them(
    client: TestClient[Litestar], operator: dict[str, str], services: Services
) -> None:
    seed(client, operator)
    others = {
        "id": "hi",
        "name": "欢迎与群发",
        "nodes": [
            {"id": "added", "type": "trigger.contact_added", "config": {}},
            {"id": "welcome", "type": "action.send_welcome", "config": {"text": "{{ member.name }}，你好呀"}},
            {"id": "vip", "type": "action.broadcast",
             "config": {"audience": {"tags_any": ["vip"]}, "text": "{{ member.name }}，会员日快乐"}},
            {"id": "posts", "type": "action.broadcast",
             "config": {"audience": {"groups": ["g-1"]}, "text": "{{ group.name }} 开抢啦", "to": "group"}},
        ],
        "edges": [{"from": "added", "to": "welcome"}],
    }  # fmt: skip
    assert client.put("/api/flows/hi/draft", json=others, headers=operator).status_code == 200

    def sent(node: str) -> dict[str, Any]:
        answer = client.post(path(node, flow="hi"), json={"member": "m-1"}, headers=operator)
        assert answer.status_code == 200, answer.text
        return answer.json()["delivery"]

    # A welcome goes only with the code of an add made seconds before: its test is a message.
    welcome = sent("welcome")
    assert (welcome["kind"], welcome["payload"]) == ("message", {"text": "小林，你好呀", "to": "member"})
    # 小林 is not in the broadcast's audience (no `vip` tag); the test shows her what members get.
    assert sent("vip")["payload"] == {"text": "小林，会员日快乐", "to": "member"}
    # A post in groups is rendered for its (first) group, and comes to the member, not into the group.
    assert sent("posts")["payload"] == {"text": "福利群 开抢啦", "to": "member"}
    assert {d["test"] for d in services.store.deliveries()} == {True}
