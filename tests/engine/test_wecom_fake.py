"""The fake WeCom itself, over loopback HTTP: the add callback it seals as WeCom does, the rules it
enforces (tokens, reminders, the per-customer quota, duplicate app messages) and the reads that sync
will use."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from qunflow.engine.connectors.wecom.client import WecomApi
from qunflow.engine.connectors.wecom.connector import WecomConnector
from qunflow.engine.connectors.wecom.crypto import CallbackCrypto
from qunflow.engine.connectors.wecom.errors import RateLimited, WecomError
from qunflow.engine.connectors.wecom.fake import FakeWecom
from qunflow.engine.connectors.wecom.options import WecomOptions
from qunflow.engine.event import Profile

TOKEN = "callback-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


class Clock:
    def __init__(self) -> None:
        self.now = 1_780_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake_clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(fake_clock: Clock) -> Iterator[FakeWecom]:
    with FakeWecom(clock=fake_clock) as fake:
        fake.add_staff("zhangsan", "张三")
        fake.add_customer("wm-1", "zhangsan", "小王")
        fake.add_group("wr-1", "zhangsan", "福利群", ["wm-1"])
        yield fake


@pytest.fixture
def api(fake: FakeWecom) -> Iterator[WecomApi]:
    client = WecomApi(fake.corp_id, fake.secret, fake.url, backoff=())
    yield client
    client.close()


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A callback URL on loopback that keeps what it is sent."""
    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            got.append((query, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"success")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/wecom/callback", got
    server.shutdown()
    server.server_close()


def test_a_customer_adding_staff_sends_a_sealed_callback_with_a_welcome_code(
    fake: FakeWecom, api: WecomApi, receiver: tuple[str, list]
) -> None:
    url, got = receiver
    code, status = fake.add_contact(
        "wm-2", "zhangsan", callback_url=url, token=TOKEN, encoding_aes_key=AES_KEY, state="ch-1"
    )

    assert status == 200
    [(query, body)] = got
    crypto = CallbackCrypto(TOKEN, AES_KEY, fake.corp_id)
    xml = crypto.decrypt_callback(body, query["msg_signature"], query["timestamp"], query["nonce"])
    for part in ("add_external_contact", "<UserID><![CDATA[zhangsan]]>", "<State><![CDATA[ch-1]]>", code):
        assert part in xml
    api.send_welcome_msg(code, "欢迎")  # the code it sent works, once
    assert fake.customers["wm-2"]["follow"]["zhangsan"]["state"] == "ch-1"


def test_calls_need_a_token_it_issued(fake: FakeWecom) -> None:
    missing = httpx.post(f"{fake.url}/cgi-bin/user/list_id", json={}).json()
    unknown = httpx.post(f"{fake.url}/cgi-bin/user/list_id?access_token=guess", json={}).json()
    assert (missing["errcode"], unknown["errcode"]) == (41001, 40014)
    wrong = httpx.get(f"{fake.url}/cgi-bin/gettoken", params={"corpid": fake.corp_id, "corpsecret": "x"})
    assert wrong.json()["errcode"] == 40001
    assert all(c.query.get("corpsecret") in (None, "***") for c in fake.calls)


def test_a_task_is_reminded_at_most_three_times_a_day(
    fake: FakeWecom, api: WecomApi, fake_clock: Clock
) -> None:
    msgid = api.add_msg_template("single", "zhangsan", "你好", external_userid=["wm-1"]).msgid
    for _ in range(3):
        api.remind_groupmsg_send(msgid)
    with pytest.raises(RateLimited):
        api.remind_groupmsg_send(msgid)
    fake_clock.now += 86_400
    api.remind_groupmsg_send(msgid)


def test_the_staff_tap_holds_back_a_customer_over_the_quota(fake: FakeWecom, api: WecomApi) -> None:
    first = api.add_msg_template("single", "zhangsan", "一", external_userid=["wm-1"]).msgid
    second = api.add_msg_template("single", "zhangsan", "二", external_userid=["wm-1"]).msgid
    assert [t.status for t in api.get_groupmsg_task(first)] == [0]

    assert fake.confirm_task(first) == {"wm-1": 1}
    assert fake.confirm_task(second) == {"wm-1": 3}  # one a day
    assert [t.status for t in api.get_groupmsg_task(first)] == [2]
    results = api.get_groupmsg_send_result(second, "zhangsan")
    assert [(r.external_userid, r.status) for r in results] == [("wm-1", 3)]
    listed = api.get_groupmsg_list_v2("single", 0, 2**40, "zhangsan")
    assert [m.msgid for m in listed] == [first, second]


def test_the_same_app_message_twice_within_the_interval_shows_once(fake: FakeWecom, api: WecomApi) -> None:
    for _ in range(2):
        api.send_textcard(fake.agent_id, "zhangsan", "任务", "回访", "https://example.com/tasks/1")
    assert len(fake.app_messages) == 1
    with pytest.raises(WecomError) as wrong_agent:
        api.send_textcard(1, "zhangsan", "任务", "回访", "https://example.com/tasks/1")
    assert wrong_agent.value.code == 40056


def test_the_reads_sync_will_use(fake: FakeWecom, api: WecomApi) -> None:
    listed = api.call("externalcontact/list", method="GET", query={"userid": "zhangsan"})
    assert listed["external_userid"] == ["wm-1"]
    detail = api.call("externalcontact/get", method="GET", query={"external_userid": "wm-1"})
    assert detail["external_contact"]["name"] == "小王" and detail["follow_user"][0]["userid"] == "zhangsan"
    batch = api.call("externalcontact/batch/get_by_user", {"userid_list": ["zhangsan"]})
    assert batch["external_contact_list"][0]["follow_info"]["userid"] == "zhangsan"
    assert api.call("externalcontact/groupchat/list", {})["group_chat_list"] == [
        {"chat_id": "wr-1", "status": 0}
    ]
    chat = api.call("externalcontact/groupchat/get", {"chat_id": "wr-1"})["group_chat"]
    assert chat["owner"] == "zhangsan" and [m["userid"] for m in chat["member_list"]] == ["zhangsan", "wm-1"]
    staff = api.call("user/simplelist", method="GET", query={"department_id": "1"})["userlist"]
    assert staff[0]["name"] == "张三"
    way = api.call(
        "externalcontact/add_contact_way", {"type": 1, "scene": 2, "user": ["zhangsan"], "state": "ch-1"}
    )
    assert way["qr_code"] and fake.contact_ways[way["config_id"]]["state"] == "ch-1"
    config_id = api.add_join_way("wr-1")
    assert api.get_join_way(config_id)["qr_code"].endswith(config_id)


def test_an_injected_error_answers_the_next_call_only(fake: FakeWecom, api: WecomApi) -> None:
    fake.fail_next("externalcontact/get_corp_tag_list", 48002, "api forbidden")
    with pytest.raises(WecomError) as refused:
        api.get_corp_tag_list()
    assert refused.value.code == 48002 and not refused.value.retryable
    assert api.get_corp_tag_list() == {}


def test_the_callback_route_can_fetch_a_customers_profile(fake: FakeWecom) -> None:
    options = WecomOptions(
        corp_id=fake.corp_id,
        secret=fake.secret,
        agent_id=fake.agent_id,
        token=TOKEN,
        encoding_aes_key=AES_KEY,
        api_base=fake.url,
    )
    assert WecomConnector.callback_fetch_profile(options, "wm-1") == Profile(name="小王")
    assert WecomConnector.callback_fetch_profile(options, "wm-unknown") is None
    WecomConnector.callback_fetch_profile(options, "wm-1")
    assert len(fake.calls_to("gettoken")) == 1  # the class-level calls share one client and token
