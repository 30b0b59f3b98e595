"""The WeCom connector through the dispatcher, on the real store, against the fake WeCom over HTTP on
loopback: batching, the quota ledger, the confirmation lifecycle, idempotency, welcome, tags, invites
and staff cards."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from wecom_kit import add_group, bodies, make_pending_again, options_for, outbox, references, rows

from qunflow.engine import SimClock, Store
from qunflow.engine.connectors import ConnectorContext
from qunflow.engine.connectors.wecom.client import WecomApi
from qunflow.engine.connectors.wecom.connector import WecomConnector
from qunflow.engine.connectors.wecom.fake import FakeWecom
from qunflow.engine.connectors.wecom.ledger import mass_send_usage
from qunflow.engine.member import PROFILE, Member
from qunflow.engine.outbox import Dispatcher

ADD = "externalcontact/add_msg_template"
HELLO = {"text": "你好，本周福利已上线", "to": "member", "staff": "zhangsan"}
MEMBERS_HAVE_STAFF = any(f.name == "staff" for f in PROFILE)


@pytest.fixture
def fake(clock: SimClock) -> Iterator[FakeWecom]:
    with FakeWecom(clock=lambda: clock.now().timestamp(), quota=1, quota_per="day") as fake:
        fake.add_staff("zhangsan", "张三")
        for member in ("m-1", "m-2", "m-3"):
            fake.add_customer(member, "zhangsan")
        yield fake


@pytest.fixture
def connector(fake: FakeWecom, store: Store, clock: SimClock) -> Iterator[WecomConnector]:
    api = WecomApi(fake.corp_id, fake.secret, fake.url, sleep=lambda _: None)
    made = WecomConnector(options_for(fake), ConnectorContext(store, clock), api=api)
    yield made
    api.close()


@pytest.fixture
def dispatcher(store: Store, clock: SimClock, connector: WecomConnector) -> Dispatcher:
    return Dispatcher(store, connector, clock=clock, poll_every=timedelta(seconds=10))


def test_one_step_to_three_customers_with_one_sender_and_text_is_one_task(
    store: Store, clock: SimClock, fake: FakeWecom, dispatcher: Dispatcher
) -> None:
    ids = [outbox(store, clock, "message", HELLO, m) for m in ("m-1", "m-2", "m-3")]
    other = outbox(store, clock, "message", {**HELLO, "text": "另一条"}, "m-1", node="other")
    different = outbox(store, clock, "message", {**HELLO, "text": "另一条"}, "m-4", node="other")

    done = dispatcher.drain()

    first, second = bodies(fake, ADD)
    assert second["external_userid"] == ["m-4"] and second["text"]["content"] == "另一条"
    assert rows(store)[different]["status"] == "awaiting_confirmation"
    assert first["chat_type"] == "single" and first["sender"] == "zhangsan"
    assert first["text"]["content"] == HELLO["text"] and first["external_userid"] == ["m-1", "m-2", "m-3"]
    # m-1's second message is over its quota of one a day: skipped, never sent to WeCom.
    assert (done.awaiting_confirmation, done.skipped) == (4, 1)
    found = rows(store)
    assert [found[i]["status"] for i in ids] == ["awaiting_confirmation"] * 3
    assert (found[other]["status"], found[other]["reason"]) == ("skipped", "quota")
    msgid = next(iter(fake.tasks))
    assert references(store)[ids[0]] == f"{msgid}:m-1"


def test_over_the_quota_a_message_is_skipped_and_the_member_page_can_say_so(
    store: Store, clock: SimClock, fake: FakeWecom, dispatcher: Dispatcher
) -> None:
    outbox(store, clock, "message", HELLO, "m-1")
    dispatcher.drain()
    later = outbox(store, clock, "message", {**HELLO, "text": "第二条"}, "m-1", node="later")
    dispatcher.drain()

    assert rows(store)[later]["status"] == "skipped" and rows(store)[later]["reason"] == "quota"
    assert len(fake.calls_to(ADD)) == 1
    assert mass_send_usage(store, "m-1", 1, "day", clock.now()) == (1, 1)

    # The next day (in China) the quota has room again.
    clock.advance_to(clock.now() + timedelta(days=1))
    assert mass_send_usage(store, "m-1", 1, "day", clock.now()) == (0, 1)
    again = outbox(store, clock, "message", {**HELLO, "text": "第三条"}, "m-1", node="again")
    dispatcher.drain()
    assert rows(store)[again]["status"] == "awaiting_confirmation"


def test_the_staff_tap_settles_each_recipient(
    store: Store, clock: SimClock, fake: FakeWecom, dispatcher: Dispatcher
) -> None:
    ids = {m: outbox(store, clock, "message", HELLO, m) for m in ("m-1", "m-2", "m-3")}
    dispatcher.drain()
    msgid = next(iter(fake.tasks))
    fake.drop_contact("m-2", "zhangsan")  # m-2 deleted the staff account meanwhile

    assert fake.confirm_task(msgid, {"m-3": 3}) == {"m-1": 1, "m-2": 2, "m-3": 3}
    clock.advance_to(clock.now() + timedelta(seconds=30))
    dispatcher.dispatch()  # nothing to send: the dispatcher polls the connector

    found = rows(store)
    assert found[ids["m-1"]]["status"] == "sent"
    assert found[ids["m-2"]]["status"] == "failed" and "不是发送员工的好友" in found[ids["m-2"]]["error"]
    assert (found[ids["m-3"]]["status"], found[ids["m-3"]]["reason"]) == ("failed", "quota")
    # The ledger counts what reached the customer: m-2's and m-3's sends do not use their quota.
    assert mass_send_usage(store, "m-2", 1, "day", clock.now())[0] == 0


def test_a_task_never_confirmed_fails_after_one_reminder_half_way(
    store: Store, clock: SimClock, fake: FakeWecom, dispatcher: Dispatcher
) -> None:
    delivery = outbox(store, clock, "message", HELLO, "m-1")
    dispatcher.drain()
    start = clock.now()

    for hours in (6, 11):
        clock.advance_to(start + timedelta(hours=hours))
        dispatcher.dispatch()
    assert fake.calls_to("externalcontact/remind_groupmsg_send") == []

    for hours in (12, 13, 20):
        clock.advance_to(start + timedelta(hours=hours))
        dispatcher.dispatch()
    assert len(bodies(fake, "externalcontact/remind_groupmsg_send")) == 1
    assert rows(store)[delivery]["status"] == "awaiting_confirmation"

    clock.advance_to(start + timedelta(hours=24))
    dispatcher.dispatch()
    found = rows(store)[delivery]
    assert found["status"] == "failed" and "未在 24 小时内确认" in found["error"]
    assert len(fake.calls_to("externalcontact/remind_groupmsg_send")) == 1


def test_a_delivery_sent_again_makes_no_second_task(
    store: Store, clock: SimClock, fake: FakeWecom, dispatcher: Dispatcher
) -> None:
    delivery = outbox(store, clock, "message", HELLO, "m-1")
    dispatcher.drain()
    reference = references(store)[delivery]

    make_pending_again(store, delivery)
    dispatcher.drain()

    assert len(fake.calls_to(ADD)) == 1
    assert rows(store)[delivery]["status"] == "awaiting_confirmation"
    assert references(store)[delivery] == reference


def test_a_task_whose_record_was_lost_is_found_at_wecom_not_made_again(
    store: Store, clock: SimClock, fake: FakeWecom, dispatcher: Dispatcher, connector: WecomConnector
) -> None:
    delivery = outbox(store, clock, "message", HELLO, "m-1")
    ledger = connector.ledger
    recorded = ledger.made

    def lost(*args: object, **kwargs: object) -> None:
        raise ConnectionError("the process stopped between the call and its record")

    ledger.made = lost  # type: ignore[method-assign]
    dispatcher.drain()
    ledger.made = recorded  # type: ignore[method-assign]
    assert rows(store)[delivery]["status"] == "pending"  # the attempt failed; retried after backoff

    clock.advance_to(clock.now() + timedelta(minutes=5))
    dispatcher.drain()

    assert len(fake.calls_to(ADD)) == 1
    assert len(fake.calls_to("externalcontact/get_groupmsg_list_v2")) == 1
    assert rows(store)[delivery]["status"] == "awaiting_confirmation"
    assert references(store)[delivery] == f"{next(iter(fake.tasks))}:m-1"


def test_a_call_wecom_refused_is_retried_and_made_once(
    store: Store, clock: SimClock, fake: FakeWecom, dispatcher: Dispatcher
) -> None:
    delivery = outbox(store, clock, "message", HELLO, "m-1")
    fake.fail_next(ADD, -1, "system busy")
    dispatcher.drain()
    assert rows(store)[delivery]["status"] == "pending"

    clock.advance_to(clock.now() + timedelta(minutes=5))
    dispatcher.drain()
    assert rows(store)[delivery]["status"] == "awaiting_confirmation"
    assert len(bodies(fake, ADD)) == 1
    # The refused attempt made nothing, so it does not count against the quota.
    assert mass_send_usage(store, "m-1", 1, "day", clock.now())[0] == 1


def test_a_member_without_an_owner_fails_with_the_reason(
    store: Store, clock: SimClock, fake: FakeWecom, dispatcher: Dispatcher
) -> None:
    delivery = outbox(store, clock, "message", {"text": "你好", "to": "member"}, "m-1")
    dispatcher.drain()

    found = rows(store)[delivery]
    assert found["status"] == "failed" and "成员没有归属员工" in found["error"]
    assert fake.calls_to(ADD) == []


@pytest.mark.skipif(not MEMBERS_HAVE_STAFF, reason="member.staff comes with the callbacks branch")
def test_the_members_owner_staff_sends_to_them(
    store: Store, clock: SimClock, fake: FakeWecom, dispatcher: Dispatcher
) -> None:
    store.put_members([Member(id="m-1", staff="zhangsan")])  # type: ignore[call-arg]
    outbox(store, clock, "message", {"text": "你好", "to": "member"}, "m-1")
    dispatcher.drain()

    assert [b["sender"] for b in bodies(fake, ADD)] == ["zhangsan"]


def test_a_group_message_is_sent_by_the_groups_owner(
    store: Store, clock: SimClock, fake: FakeWecom, dispatcher: Dispatcher
) -> None:
    fake.add_group("wr-1", "lisi", "福利群")
    add_group(store, "wr-1", "lisi", "福利群")
    add_group(store, "wr-2", None)
    delivery = outbox(store, clock, "message", {"text": "群公告", "to": "group", "group": "wr-1"}, None)
    orphan = outbox(store, clock, "message", {"text": "群公告", "to": "group", "group": "wr-2"}, None)
    dispatcher.drain()

    assert [(b["chat_type"], b["sender"], b["chat_id_list"]) for b in bodies(fake, ADD)] == [
        ("group", "lisi", ["wr-1"])
    ]
    assert rows(store)[delivery]["status"] == "awaiting_confirmation"
    assert rows(store)[orphan]["status"] == "failed" and "没有群主" in rows(store)[orphan]["error"]

    fake.confirm_task(next(iter(fake.tasks)))
    clock.advance_to(clock.now() + timedelta(seconds=30))
    dispatcher.dispatch()
    assert rows(store)[delivery]["status"] == "sent"


def test_invites_send_the_groups_join_link_made_once(
    store: Store, clock: SimClock, fake: FakeWecom, dispatcher: Dispatcher
) -> None:
    fake.add_group("wr-1", "lisi", "福利群")
    add_group(store, "wr-1", "lisi", "福利群")
    outbox(store, clock, "invite", {"group": "wr-1", "staff": "zhangsan"}, "m-1")
    dispatcher.drain()
    clock.advance_to(clock.now() + timedelta(days=1))
    outbox(store, clock, "invite", {"group": "wr-1", "staff": "zhangsan"}, "m-2", node="again")
    dispatcher.drain()

    assert len(bodies(fake, "externalcontact/groupchat/add_join_way")) == 1
    link = next(iter(fake.join_ways.values()))["qr_code"]
    sent = bodies(fake, ADD)
    assert [b["external_userid"] for b in sent] == [["m-1"], ["m-2"]]
    assert all(b["attachments"][0]["link"]["url"] == link for b in sent)
    assert "福利群" in sent[0]["text"]["content"]


def test_a_welcome_is_sent_once_and_a_used_code_fails_without_retry(
    store: Store, clock: SimClock, fake: FakeWecom, dispatcher: Dispatcher
) -> None:
    code = fake.issue_welcome_code("m-1", "zhangsan")
    first = outbox(store, clock, "welcome", {"text": "欢迎加入！", "welcome_code": code}, "m-1")
    dispatcher.drain()
    again = outbox(store, clock, "welcome", {"text": "欢迎加入！", "welcome_code": code}, "m-1", node="again")
    dispatcher.drain()

    found = rows(store)
    assert found[first]["status"] == "sent"
    assert found[again]["status"] == "failed" and found[again]["attempts"] == 1
    assert "41051" in found[again]["error"]
    assert [w["text"] for w in fake.welcomes] == [{"content": "欢迎加入！"}]


def test_a_welcome_whose_answer_was_lost_is_sent_when_wecom_says_it_went(
    store: Store, clock: SimClock, fake: FakeWecom, dispatcher: Dispatcher
) -> None:
    code = fake.issue_welcome_code("m-1", "zhangsan")
    delivery = outbox(store, clock, "welcome", {"text": "欢迎！", "welcome_code": code}, "m-1")
    dispatcher.drain()
    make_pending_again(store, delivery)
    # The row says `sent`; and were it lost mid-call, WeCom's 41051 for our own code means it went.
    dispatcher.drain()

    assert rows(store)[delivery]["status"] == "sent"
    assert len(fake.welcomes) == 1


def test_the_welcomes_of_one_dispatch_go_together_each_with_its_own_outcome(
    store: Store, clock: SimClock, fake: FakeWecom, connector: WecomConnector, dispatcher: Dispatcher
) -> None:
    fresh = [fake.issue_welcome_code(m, "zhangsan") for m in ("m-1", "m-2")]
    taken = fake.issue_welcome_code("m-3", "zhangsan")
    WecomApi(fake.corp_id, fake.secret, fake.url).send_welcome_msg(taken, "另一个应用先发了")
    sent = [
        outbox(store, clock, "welcome", {"text": "欢迎！", "welcome_code": c}, m)
        for c, m in zip(fresh, ("m-1", "m-2"), strict=True)
    ]
    refused = outbox(store, clock, "welcome", {"text": "欢迎！", "welcome_code": taken}, "m-3")
    codeless = outbox(store, clock, "welcome", {"text": "欢迎！"}, "m-1", node="bare")

    result = dispatcher.dispatch()

    assert result.leased == 4
    found = rows(store)
    assert [found[d]["status"] for d in sent] == ["sent", "sent"]
    assert found[refused]["status"] == "failed" and "41051" in found[refused]["error"]
    assert found[codeless]["status"] == "failed" and "welcome_code" in found[codeless]["error"]
    calls = [c.body["welcome_code"] for c in fake.calls_to("externalcontact/send_welcome_msg")]
    assert sorted(calls) == sorted([taken, *fresh, taken])  # the other app's call, then one each
    ledger = connector.ledger.find(f"run-{d}:send:1" for d in [*sent, refused])
    # Sent ones are remembered as sent; a code another app used made nothing of ours.
    assert {k: r.state for k, r in ledger.items()} == {f"run-{d}:send:1": "sent" for d in sent}


def test_tag_names_map_to_corp_tags_and_missing_ones_are_made(
    store: Store, clock: SimClock, fake: FakeWecom, dispatcher: Dispatcher
) -> None:
    fake.tag_groups.append(
        {"group_id": "g1", "group_name": "客户等级", "tag": [{"id": "et-vip", "name": "VIP"}]}
    )
    first = outbox(store, clock, "tag", {"add": ["VIP", "新客"], "staff": "zhangsan"}, "m-1")
    second = outbox(store, clock, "tag", {"add": ["新客"], "remove": ["VIP"], "staff": "zhangsan"}, "m-2")
    dispatcher.drain()

    assert [b["tag"] for b in bodies(fake, "externalcontact/add_corp_tag")] == [[{"name": "新客"}]]
    new_id = next(t["id"] for g in fake.tag_groups for t in g["tag"] if t["name"] == "新客")
    marks = bodies(fake, "externalcontact/mark_tag")
    assert [(m["external_userid"], m["add_tag"], m["remove_tag"]) for m in marks] == [
        ("m-1", ["et-vip", new_id], []),
        ("m-2", [new_id], ["et-vip"]),
    ]
    assert rows(store)[first]["status"] == rows(store)[second]["status"] == "sent"
    assert fake.customers["m-1"]["follow"]["zhangsan"]["tags"] == {"et-vip", new_id}


def test_staff_tasks_become_text_cards_linking_to_the_task_page(
    store: Store, clock: SimClock, fake: FakeWecom, dispatcher: Dispatcher
) -> None:
    add_group(store, "wr-1", "lisi", "福利群")
    task = outbox(store, clock, "task", {"title": "回访客户", "staff": "zhangsan"}, "m-1")
    remove = outbox(store, clock, "remove", {"group": "wr-1", "blacklist": True}, "m-2")
    dispatcher.drain()

    cards = {m["touser"]: m["textcard"] for m in fake.app_messages}
    assert cards["zhangsan"]["title"] == "回访客户"
    assert cards["zhangsan"]["url"] == f"https://qunflow.example.com/tasks/{task}"
    assert cards["lisi"]["url"].endswith(f"/tasks/{remove}") and "福利群" in cards["lisi"]["description"]
    assert rows(store)[task]["status"] == rows(store)[remove]["status"] == "sent"
