"""Scenario tests of the trigger nodes: which events start runs, checked through `simulate`."""

from __future__ import annotations

from typing import Any

from documents import event, flow, node
from kit import run, runs, sent, tags

T = "2026-11-22T10:00:00+08:00"
ALWAYS = {"reentry": "always"}


def tagging(flow_id: str, trigger: dict[str, Any], tag: str | None = None, **extra: Any) -> dict[str, Any]:
    """A flow that tags (`tag`, default the flow id) whoever its trigger starts."""
    return flow(
        flow_id,
        [trigger, node("tag", "action.add_tag", tags=[tag or flow_id])],
        [(trigger["id"], "tag")],
        **extra,
    )


def started(report: dict[str, Any], flow_id: str) -> int:
    return report["nodes"][flow_id].get("t", 0)


def test_contact_added_filters_by_channel_and_staff() -> None:
    report = run(
        [
            tagging("any", node("t", "trigger.contact_added")),
            tagging("qr_a", node("t", "trigger.contact_added", channels=["qr-a"])),
            tagging("staff_1", node("t", "trigger.contact_added", staff=["s-1"])),
        ],
        [
            event("c1", "contact_added", T, member="m-1", channel="qr-a", data={"staff": "s-2"}),
            event("c2", "contact_added", T, member="m-2", channel="qr-b", data={"staff": "s-1"}),
            event("c3", "member_joined", T, member="m-3", channel="qr-a", group="g"),
        ],
    )
    assert tags(report, "m-1") == ["any", "qr_a"]
    assert tags(report, "m-2") == ["any", "staff_1"]
    assert tags(report, "m-3") == []
    assert [started(report, f) for f in ("any", "qr_a", "staff_1")] == [2, 1, 1]
    assert runs(report, "any") == {"done": 2}


GROUPS = [
    {"id": "g-fans", "name": "粉丝群", "tags": ["fans"], "kind": "fans"},
    {"id": "g-traffic", "name": "引流群", "tags": ["traffic"]},
]


def test_member_joined_filters_by_group_group_tag_and_channel() -> None:
    report = run(
        [
            tagging("by_group", node("t", "trigger.member_joined", groups=["g-traffic"])),
            tagging("by_tag", node("t", "trigger.member_joined", group_tags=["fans"])),
            tagging("by_channel", node("t", "trigger.member_joined", channels=["qr-live"])),
            tagging(
                "both",
                node("t", "trigger.member_joined", group_tags=["fans", "traffic"], channels=["qr-store"]),
            ),
        ],
        [
            event("e1", "member_joined", T, member="m-1", group="g-fans", channel="qr-live"),
            event("e2", "member_joined", T, member="m-2", group="g-traffic", channel="qr-store"),
            event("e3", "member_joined", T, member="m-3", group="g-new"),
        ],
        groups=GROUPS,
    )
    assert tags(report, "m-1") == ["by_channel", "by_tag"]
    assert tags(report, "m-2") == ["both", "by_group"]
    assert tags(report, "m-3") == []
    assert report["members"]["m-3"]["groups"] == ["g-new"]  # a group seen only in an event exists, untagged


def test_member_left_filters_by_group_and_takes_the_member_out() -> None:
    report = run(
        [
            tagging("left_any", node("t", "trigger.member_left"), "left"),
            tagging("left_fans", node("t", "trigger.member_left", group_tags=["fans"])),
            tagging("left_traffic", node("t", "trigger.member_left", groups=["g-traffic"])),
        ],
        [
            event("j1", "member_joined", T, member="m-1", group="g-fans"),
            event("j2", "member_joined", T, member="m-1", group="g-traffic"),
            event("l1", "member_left", "2026-11-22T11:00:00+08:00", member="m-1", group="g-fans"),
        ],
        groups=GROUPS,
    )
    member = report["members"]["m-1"]
    assert member["groups"] == ["g-traffic"]
    assert member["tags"] == ["left", "left_fans"]
    assert sent(report) == []
    assert report["nodes"]["left_traffic"] == {}


def test_message_keywords_any_all_and_regex() -> None:
    texts = ["有优惠吗", "优惠券在哪", "123456", "1234567", "券"]
    report = run(
        [
            tagging("any", node("t", "trigger.message", keywords=["优惠", "券"]), settings=ALWAYS),
            tagging(
                "all", node("t", "trigger.message", keywords=["优惠", "券"], match="all"), settings=ALWAYS
            ),
            tagging(
                "code", node("t", "trigger.message", keywords=[r"^\d{6}$"], match="regex"), settings=ALWAYS
            ),
            tagging("in_g2", node("t", "trigger.message", groups=["g-2"]), settings=ALWAYS),
        ],
        [
            event(f"m{i}", "message", T, member=f"m-{i}", group="g-1", data={"text": text})
            for i, text in enumerate(texts)
        ]
        + [event("other", "message", T, member="m-9", group="g-2", data={"text": "hello"})],
    )
    matched = {f: sorted(m for m, s in report["members"].items() if f in s["tags"]) for f in report["nodes"]}
    assert matched == {
        "any": ["m-0", "m-1", "m-4"],
        "all": ["m-1"],
        "code": ["m-2"],
        "in_g2": ["m-9"],
    }


def test_purchase_min_amount_and_products() -> None:
    report = run(
        [
            tagging("big", node("t", "trigger.purchase", min_amount=100), settings=ALWAYS),
            tagging("tea", node("t", "trigger.purchase", products=["茶", "茶具"]), settings=ALWAYS),
        ],
        [
            event("p1", "purchase", T, member="m-1", data={"amount": 99.99, "product": "茶"}),
            event("p2", "purchase", T, member="m-2", data={"amount": 100, "product": "咖啡"}),
            event("p3", "purchase", T, member="m-3", data={"amount": 150, "product": "茶具"}),
            event("p4", "purchase", T, member="m-4", data={"product": "茶"}),
        ],
    )
    assert [started(report, "big"), started(report, "tea")] == [2, 3]
    assert tags(report, "m-1") == ["tea"]
    assert tags(report, "m-2") == ["big"]
    assert tags(report, "m-3") == ["big", "tea"]
    assert tags(report, "m-4") == ["tea"]


def test_tag_added_fires_on_another_flows_tag_and_on_a_profile_tag() -> None:
    vip = flow(
        "vip",
        [
            node("t", "trigger.member_joined", groups=["g-vip"]),
            node("tag", "action.add_tag", tags=["vip", "x"]),
        ],
        [("t", "tag")],
    )
    welcome = flow(
        "welcome",
        [
            node("t", "trigger.tag_added", tags=["vip"]),
            node("hi", "action.send_message", text="欢迎 VIP {{ member.name }}"),
        ],
        [("t", "hi")],
        settings=ALWAYS,
    )
    report = run(
        [vip, welcome],
        [
            event("e1", "member_joined", T, member="m-1", group="g-vip", profile={"name": "甲"}),
            event("e2", "member_updated", T, member="m-2", profile={"name": "乙", "tags": ["vip"]}),
            # Already tagged: adding the tag again is not "a tag added".
            event("e3", "member_joined", T, member="m-3", group="g-vip"),
            event("e4", "member_updated", T, member="m-4", profile={"tags": ["other"]}),
        ],
        members=[{"id": "m-3", "name": "丙", "tags": ["vip"]}],
    )
    assert [(d["member"], d["payload"]["text"]) for d in sent(report, "hi")] == [
        ("m-1", "欢迎 VIP 甲"),
        ("m-2", "欢迎 VIP 乙"),
    ]
    assert runs(report, "welcome") == {"done": 2}
    assert report["nodes"]["welcome"] == {"t": 2, "hi": 2}


def test_custom_event_with_where() -> None:
    report = run(
        [
            tagging(
                "pro",
                node(
                    "t",
                    "trigger.event",
                    event="signup",
                    where={"field": "data.plan", "op": "eq", "value": "pro"},
                ),
            ),
            tagging(
                "rich_pro",
                node(
                    "t",
                    "trigger.event",
                    event="signup",
                    where=[
                        {"field": "event.data.plan", "op": "in", "value": ["pro", "team"]},
                        {"field": "member.points", "op": "gte", "value": 100},
                    ],
                ),
            ),
            tagging("any_signup", node("t", "trigger.event", event="signup")),
        ],
        [
            event("s1", "signup", T, member="m-1", data={"plan": "pro"}),
            event("s2", "signup", T, member="m-2", data={"plan": "free"}),
            event("s3", "signup", T, member="m-3", data={"plan": "team"}),
            event("s4", "signin", T, member="m-4", data={"plan": "pro"}),
        ],
        members=[{"id": "m-3", "points": 100}, {"id": "m-1", "points": 99}],
    )
    assert tags(report, "m-1") == ["any_signup", "pro"]
    assert tags(report, "m-2") == ["any_signup"]
    assert tags(report, "m-3") == ["any_signup", "rich_pro"]
    assert "m-4" in report["members"]
    assert tags(report, "m-4") == []


def test_a_group_level_event_without_member_starts_a_run_with_no_member() -> None:
    report = run(
        flow(
            "f",
            [
                node("t", "trigger.event", event="group_post"),
                node("say", "action.send_message", text="早安", to="group", group="g-1"),
            ],
            [("t", "say")],
        ),
        [event("g1", "group_post", T, member=None, group="g-1")],
    )
    assert [(d["member"], d["payload"]) for d in sent(report)] == [
        (None, {"text": "早安", "to": "group", "group": "g-1"})
    ]
    assert report["members"] == {}
