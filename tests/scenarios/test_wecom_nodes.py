"""Scenario tests of the WeCom nodes (DESIGN §20) under the simulated clock: `action.send_welcome`
right after an add, with the add's welcome code, never held back; `trigger.contact_deleted` by who
deleted and which staff account."""

from __future__ import annotations

from documents import event, flow, node
from kit import run, runs, sent, tags

T = "2026-11-22T23:30:00+08:00"  # inside the quiet hours below: a welcome is not held back by them
ALWAYS = {"reentry": "always"}


def added(event_id: str, member: str, code: str | None = "CODE-1", staff: str = "zhangsan") -> dict:
    data = {"staff": staff, **({"welcome_code": code} if code else {})}
    return event(event_id, "contact_added", T, member=member, channel="qr-a", data=data)


def welcome_flow(**config) -> dict:
    return flow(
        "f",
        [node("t", "trigger.contact_added"), node("w", "action.send_welcome", **config)],
        [("t", "w")],
        settings={"quiet_hours": {"start": "22:00", "end": "08:00"}},
    )


def test_a_welcome_goes_at_once_with_the_adds_welcome_code() -> None:
    report = run(
        welcome_flow(text="欢迎 {{ member.name }}！"), [{**added("a1", "wm-1"), "profile": {"name": "小林"}}]
    )
    (delivery,) = sent(report, "w")
    assert delivery["kind"] == "welcome" and delivery["member"] == "wm-1"
    assert delivery["payload"] == {"text": "欢迎 小林！", "welcome_code": "CODE-1"}
    assert delivery["at"].startswith("2026-11-22T23:30")
    assert runs(report) == {"done": 1}


def test_a_welcome_from_the_content_library_carries_the_item() -> None:
    item = {"id": "hi", "title": "欢迎语", "kind": "link", "text": "欢迎加入",
            "link": {"url": "https://example.com/vip", "title": "会员权益"}}  # fmt: skip
    report = run(welcome_flow(content="hi"), [added("a1", "wm-1")], content=[item])
    (delivery,) = sent(report, "w")
    assert delivery["payload"]["text"] == "欢迎加入" and delivery["payload"]["welcome_code"] == "CODE-1"
    assert delivery["payload"]["content"]["link"]["url"] == "https://example.com/vip"


def test_an_add_without_a_code_still_records_the_welcome_with_no_code() -> None:
    report = run(welcome_flow(text="欢迎"), [added("a1", "wm-1", code=None)])
    (delivery,) = sent(report, "w")
    assert delivery["payload"] == {"text": "欢迎", "welcome_code": None}


def test_each_add_gets_its_own_code_once() -> None:
    document = {**welcome_flow(text="欢迎"), "settings": ALWAYS}
    report = run(document, [added("a1", "wm-1", "C1"), added("a2", "wm-2", "C2"), added("a1", "wm-1", "C1")])
    assert sorted((d["member"], d["payload"]["welcome_code"]) for d in sent(report, "w")) == [
        ("wm-1", "C1"),
        ("wm-2", "C2"),
    ]


def tagging(trigger: dict, tag: str) -> dict:
    return flow(
        tag, [trigger, node("tag", "action.add_tag", tags=[tag])], [(trigger["id"], "tag")], settings=ALWAYS
    )


def test_contact_deleted_filters_by_who_and_staff() -> None:
    report = run(
        [
            tagging(node("t", "trigger.contact_deleted"), "any"),
            tagging(node("t", "trigger.contact_deleted", by="customer"), "by_customer"),
            tagging(node("t", "trigger.contact_deleted", by="staff", staff=["lisi"]), "lisi_removed"),
        ],
        [
            event("d1", "contact_deleted", T, member="wm-1", data={"by": "customer", "staff": "zhangsan"}),
            event("d2", "contact_deleted", T, member="wm-2", data={"by": "staff", "staff": "lisi"}),
            event("d3", "contact_deleted", T, member="wm-3", data={"by": "staff", "staff": "zhangsan"}),
            event("d4", "contact_added", T, member="wm-4", data={"staff": "lisi"}),
        ],
    )
    assert tags(report, "wm-1") == ["any", "by_customer"]
    assert tags(report, "wm-2") == ["any", "lisi_removed"]
    assert tags(report, "wm-3") == ["any"]
    assert tags(report, "wm-4") == []
