"""The flow templates in `flows/`: each validates and runs its bundled example under `simulate`."""

from __future__ import annotations

import os
from typing import Any

import msgspec
import pytest
from documents import event
from kit import run, runs, sent, tags

from qunflow.engine import compile_flow, default_registry
from qunflow.engine.event import decode_event_lines
from qunflow.engine.member import GroupRecord, MemberRecord
from qunflow.engine.simulate import simulate
from qunflow.flows import example, load_template, template_names


def _records(name: str, kind: str, record: type) -> list[Any]:
    path = example(f"{name}.{kind}.jsonl")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as lines:
        return [msgspec.json.decode(line, type=record) for line in lines if line.strip()]


def play(name: str, until: str = "P10D") -> dict[str, Any]:
    """Simulate a template on its example events (and members / groups, when given)."""
    with open(example(f"{name}.events.jsonl"), encoding="utf-8") as events:
        decoded = decode_event_lines(events.read())
    members = _records(name, "members", MemberRecord)
    groups = _records(name, "groups", GroupRecord)
    return simulate([load_template(name)], decoded, until, members=members, groups=groups)


def at(report: dict[str, Any], node: str) -> list[tuple[str | None, str]]:
    return [(d["member"], d["at"]) for d in sent(report, node)]


TEMPLATES = [
    "anti-spam",
    "channel-qr",
    "churn-recall",
    "flash-sale",
    "group-routing",
    "lifecycle",
    "member-day",
    "morning-evening-post",
    "points-coupon",
    "spend-tiers",
    "welcome-vip",
]


def test_the_template_set_is_complete() -> None:
    assert template_names() == TEMPLATES


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_validates_with_chinese_labels(name: str) -> None:
    document = load_template(name)
    plan = compile_flow(document, default_registry())
    assert plan.flow.id == name
    assert any("\u4e00" <= ch <= "\u9fff" for ch in plan.flow.name)
    assert all(n.label for n in plan.flow.nodes), "every node has an operator-facing label"


def test_channel_qr_tags_by_channel_and_welcomes_after_quiet_hours() -> None:
    report = play("channel-qr")
    assert tags(report, "m-1") == ["渠道:门店"]  # a second scan (another channel) does not re-enter
    assert tags(report, "m-2") == ["渠道:直播间"]
    assert tags(report, "m-3") == ["渠道:其他"]
    assert at(report, "welcome") == [
        ("m-1", "2026-11-22T10:00:00+08:00"),
        ("m-2", "2026-11-22T20:15:00+08:00"),
        ("m-3", "2026-11-23T08:00:00+08:00"),  # added at 23:40, inside quiet hours
    ]
    assert sent(report, "welcome", "m-3")[0]["payload"]["text"].startswith("王姐，你好！")


def test_churn_recall_recalls_the_silent_and_calls_those_who_stay_silent() -> None:
    report = play("churn-recall", until="2026-12-01T00:00:00+08:00")
    # 14 days without a message, counted from first seen (m-1) or the last message (m-2, m-4).
    assert at(report, "recall_msg") == [
        ("m-1", "2026-11-15T10:00:00+08:00"),
        ("m-2", "2026-11-17T10:00:00+08:00"),
        ("m-4", "2026-11-25T10:00:00+08:00"),
    ]
    assert tags(report, "m-1") == ["召回中", "已召回"]
    assert at(report, "call") == [("m-2", "2026-11-20T10:00:00+08:00"), ("m-4", "2026-11-28T10:00:00+08:00")]
    assert sent(report, "call", "m-2")[0]["payload"]["due"] == "2026-11-22T10:00:00+08:00"
    assert tags(report, "m-2") == ["召回中", "已电话回访"]
    assert tags(report, "m-4") == ["召回中", "流失"]  # the call task went overdue
    assert tags(report, "m-3") == ["免打扰"]
    assert runs(report, "churn-recall") == {"done": 3}


def test_morning_and_evening_posts_go_to_every_fans_group_on_time() -> None:
    report = play("morning-evening-post", until="2026-11-23T23:00:00+08:00")
    posts = [(d["node"], d["payload"]["group"], d["at"]) for d in report["deliveries"]]
    assert posts == [
        ("evening_post", "g-fans-1", "2026-11-22T21:00:00+08:00"),
        ("evening_post", "g-fans-2", "2026-11-22T21:00:00+08:00"),
        ("morning_post", "g-fans-1", "2026-11-23T08:00:00+08:00"),
        ("morning_post", "g-fans-2", "2026-11-23T08:00:00+08:00"),
        ("evening_post", "g-fans-1", "2026-11-23T21:00:00+08:00"),
        ("evening_post", "g-fans-2", "2026-11-23T21:00:00+08:00"),
    ]
    assert "粉丝福利 2 群" in sent(report, "morning_post")[1]["payload"]["text"]
    assert all(d["member"] is None for d in report["deliveries"])


def test_member_day_reaches_members_and_kocs_on_wednesday_and_rewards_buyers_within_a_day() -> None:
    report = play("member-day", until="2026-11-30T00:00:00+08:00")
    assert at(report, "notice") == [
        ("m-1", "2026-11-25T10:00:00+08:00"),
        ("m-2", "2026-11-25T10:00:00+08:00"),
    ]
    assert report["members"]["m-1"]["points"] == 60  # bought at 20:30 the same day
    assert report["members"]["m-2"]["points"] == 0  # bought 25 hours later
    assert sent(report, member="m-3") == []


def test_flash_sale_reminds_groups_and_subscribers_daily_at_19_50() -> None:
    report = play("flash-sale", until="2026-11-23T23:00:00+08:00")
    assert (
        at(report, "groups")
        == [(None, "2026-11-22T19:50:00+08:00")] * 2 + [(None, "2026-11-23T19:50:00+08:00")] * 2
    )
    # Exactly 24 h apart: yesterday's reminder has just stopped counting against the daily cap.
    assert at(report, "subscribers") == [
        ("m-1", "2026-11-22T19:50:00+08:00"),
        ("m-1", "2026-11-23T19:50:00+08:00"),
    ]


def test_anti_spam_spares_the_whitelist_warns_once_then_removes_and_blacklists() -> None:
    report = play("anti-spam")
    assert sent(report, member="m-owner") == [] and sent(report, member="m-1") == []
    assert at(report, "warn") == [("m-ad", "2026-11-22T10:05:00+08:00")]
    assert at(report, "kick") == [("m-ad", "2026-11-22T11:30:00+08:00")]
    assert report["members"]["m-ad"]["blacklisted"] is True
    # Blacklisted members who join another group are removed at once.
    assert [(d["member"], d["payload"]) for d in sent(report, "kick_again")] == [
        ("m-old", {"group": "g-fans-2", "blacklist": True}),
        ("m-ad", {"group": "g-fans-2", "blacklist": True}),
    ]
    assert report["members"]["m-ad"]["groups"] == []


def test_points_for_interaction_are_redeemed_for_a_coupon_at_100() -> None:
    report = play("points-coupon")
    assert at(report, "coupon") == [("m-1", "2026-11-22T09:02:00+08:00")]
    assert sent(report, "tell")[0]["payload"]["text"].endswith("剩余 3 分～")
    assert report["members"]["m-1"]["points"] == 4  # 97 +1 +5 −100 +1


def test_points_cannot_be_farmed_by_repeated_check_ins_or_flooding() -> None:
    report = play("points-coupon")
    # m-2 checks in 20 times on the 22nd: +5 once; again on the 23rd: +5 (the tag is cleared at 0:00).
    assert report["members"]["m-2"]["points"] == 10 + 5 + 5
    # m-3 posts 30 messages in 30 minutes: +1 for the first 20; a day later chat counts again.
    assert report["members"]["m-3"]["points"] == 20 + 1
    assert [d["member"] for d in sent(report, "coupon")] == ["m-1"]
    assert "今日已签到" not in tags(report, "m-2")  # cleared at 0:00 each day


def test_twenty_check_ins_in_twenty_minutes_do_not_earn_the_coupon() -> None:
    # The defect as reported: with 20 check-ins at 5 points, a member reached 100 in 20 minutes.
    farm = [
        event(
            f"c{i}",
            "message",
            f"2026-11-22T10:{i:02d}:00+08:00",
            member="m-9",
            group="g",
            data={"text": "签到"},
        )
        for i in range(20)
    ]
    report = run(load_template("points-coupon"), farm, "P1D")
    assert report["members"]["m-9"]["points"] == 5
    assert sent(report, "coupon") == []


def test_spend_tiers_layer_first_purchase_repurchase_and_high_value() -> None:
    report = play("spend-tiers")
    grades = {m: report["members"][m]["grade"] for m in ("m-1", "m-2", "m-3")}
    assert grades == {"m-1": "B", "m-2": "S", "m-3": "S"}
    # Each member carries the tag of their tier only: the one being left is removed.
    assert tags(report, "m-1") == ["首购"]
    assert tags(report, "m-2") == ["高价值"]  # 首购, then 复购, then 高价值 (129 + 89 + 1899)
    assert tags(report, "m-3") == ["高价值"]
    assert at(report, "repeat_coupon") == [
        ("m-1", "2026-11-22T10:00:00+08:00"),
        ("m-2", "2026-11-22T11:00:00+08:00"),
    ]
    assert report["members"]["m-3"]["groups"] == ["vip-1"]
    assert sorted(report["members"]["m-2"]["groups"]) == ["vip-1"]


def test_spend_tiers_never_leave_two_tier_tags_at_once() -> None:
    orders = [
        event("o1", "purchase", "2026-11-22T10:00:00+08:00", member="m-7", data={"amount": 50}),
        event("o2", "purchase", "2026-11-23T10:00:00+08:00", member="m-7", data={"amount": 60}),
    ]
    report = run(load_template("spend-tiers"), orders, "P3D")
    assert report["members"]["m-7"]["grade"] == "A"
    assert tags(report, "m-7") == ["复购"]


def test_lifecycle_moves_a_member_from_prospect_to_koc() -> None:
    report = play("lifecycle")
    assert report["members"]["m-1"]["stage"] == "koc"
    assert report["members"]["m-2"]["stage"] == "prospect"
    assert report["nodes"]["lifecycle"]["to_customer"] == 1 and report["nodes"]["lifecycle"]["to_member"] == 1
    # Member at the second purchase (199 + 399 ≥ 500), KOC at the 20th message within 7 days.
    assert at(report, "member_group") == [("m-1", "2026-11-24T15:00:00+08:00")]
    assert at(report, "invite_koc") == [("m-1", "2026-11-26T13:45:00+08:00")]


def test_group_routing_fills_the_pool_then_asks_staff_for_a_new_group() -> None:
    report = play("group-routing")
    assert [(d["member"], d["payload"]["group"]) for d in sent(report, "pool")] == [
        ("m-1", "g-traffic-2"),  # g-traffic-1 already has 200
        ("m-2", "g-traffic-3"),
    ]
    assert tags(report, "m-3") == ["待分群"]
    assert at(report, "new_group") == [("m-3", "2026-11-22T12:00:00+08:00")]
    assert tags(report, "m-bad") == ["黑名单拦截"]


def test_welcome_vip_runs_its_example() -> None:
    report = play("welcome-vip", until="P5D")
    assert runs(report, "welcome-vip") == {"done": 3}
    assert [d["member"] for d in sent(report, "coupon")] == ["m-1", "m-2", "m-4"]
