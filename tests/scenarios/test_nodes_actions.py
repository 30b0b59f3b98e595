"""Scenario tests of the action nodes: member state and deliveries after whole flows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from documents import event, flow, node
from kit import run, runs, sent, tags

from qunflow.engine import FlowInvalid

T = "2026-11-22T10:00:00+08:00"
ROOT = Path(__file__).resolve().parents[2]


def chain(*steps: dict[str, Any], trigger: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """go event → steps one after another."""
    nodes = [trigger or node("t", "trigger.event", event="go"), *steps]
    return flow("f", nodes, [(a["id"], b["id"]) for a, b in zip(nodes, nodes[1:], strict=False)], **extra)


def go(member: str = "m-1", at: str = T, id: str | None = None, **fields: Any) -> dict[str, Any]:
    return event(id or f"go-{member}-{at}", "go", at, member=member, **fields)


def test_add_and_remove_tags() -> None:
    report = run(
        chain(
            node("add", "action.add_tag", tags=["new", "vip", "new"]),
            node("rm", "action.remove_tag", tags=["old", "absent"]),
        ),
        [go("m-1"), go("m-2")],
        members=[{"id": "m-1", "tags": ["old", "vip", "keep"]}],
    )
    assert tags(report, "m-1") == ["keep", "new", "vip"]
    assert tags(report, "m-2") == ["new", "vip"]
    assert report["nodes"]["f"] == {"t": 2, "add": 2, "rm": 2}


def test_set_attribute_is_read_back_by_later_nodes() -> None:
    report = run(
        chain(
            node("city", "action.set_attribute", field="city", value="杭州"),
            node("level", "action.set_attribute", field="attributes.level", value=3),
            node("vip", "action.set_attribute", field="member.attributes.vip", value=True),
            node(
                "say",
                "action.send_message",
                text="{{ member.attributes.city }}/{{ member.attributes.level }}/"
                "{{ member.attributes.vip }}/{{ member.attributes.old }}",
            ),
            node("check", "condition.attribute", field="member.attributes.level", op="gte", value=3),
        ),
        [go("m-1")],
        members=[{"id": "m-1", "attributes": {"city": "上海", "old": "kept"}}],
    )
    assert [d["payload"]["text"] for d in sent(report, "say")] == ["杭州/3/True/kept"]
    assert report["nodes"]["f"]["check"] == 1


def test_add_points_never_goes_below_zero() -> None:
    report = run(
        chain(
            node("plus", "action.add_points", points=10, reason="签到"),
            node("minus", "action.add_points", points=-25),
        ),
        [go("rich"), go("poor")],
        members=[{"id": "rich", "points": 20}],
    )
    assert report["members"]["rich"]["points"] == 5
    assert report["members"]["poor"]["points"] == 0


def test_set_grade_and_stage() -> None:
    report = run(
        chain(node("grade", "action.set_grade", grade="S"), node("stage", "action.set_stage", stage="koc")),
        [go("m-1")],
        members=[{"id": "m-1", "grade": "C", "stage": "prospect"}],
    )
    assert (report["members"]["m-1"]["grade"], report["members"]["m-1"]["stage"]) == ("S", "koc")


GROUP = {"id": "g-1", "name": "粉丝福利群", "tags": ["fans"]}


def test_send_message_renders_placeholders() -> None:
    text = (
        "{{ member.name }}，您买的{{ event.data.product }}到了！"
        "积分 {{ member.points }}，群 {{ group.name }}。{{ event.data.nope }}{{member.attributes.nope}}"
    )
    report = run(
        chain(node("say", "action.send_message", text=text), trigger=node("t", "trigger.purchase")),
        [
            event(
                "p1",
                "purchase",
                T,
                member="m-1",
                group="g-1",
                data={"amount": 5, "product": "龙井"},
                profile={"name": "小林"},
            )
        ],
        members=[{"id": "m-1", "points": 7}],
        groups=[GROUP],
    )
    [delivery] = sent(report, "say")
    assert delivery == {
        "at": T,
        "flow": "f",
        "node": "say",
        "member": "m-1",
        "kind": "message",
        "payload": {"text": "小林，您买的龙井到了！积分 7，群 粉丝福利群。", "to": "member"},
    }


def test_placeholders_are_never_evaluated() -> None:
    # An expression gets past no one: validation rejects it, and rendering an unvalidated one gives nothing.
    from qunflow.engine.fields import render

    scope = {"member": None, "event": {"data": {"x": "{{ member.name }}"}}}
    assert render("a{{ 1+1 }}b{{ event.data.x }}c{{ event.__class__ }}", scope) == "ab{{ member.name }}c"


def test_send_message_to_a_group_and_from_the_content_library() -> None:
    report = run(
        chain(
            node("post", "action.send_message", text="欢迎来到{{ group.name }}", to="group", group="g-1"),
            node("script", "action.send_message", content="welcome-script"),
        ),
        [go("m-1")],
        groups=[GROUP],
        members=[{"id": "m-1", "name": "小林"}],
        content=[{"id": "welcome-script", "title": "欢迎话术", "text": "{{ member.name }}，欢迎！"}],
    )
    script = {
        "id": "welcome-script",
        "title": "欢迎话术",
        "kind": "text",
        "text": "{{ member.name }}，欢迎！",
    }
    assert [(d["node"], d["member"], d["payload"]) for d in sent(report)] == [
        ("post", "m-1", {"text": "欢迎来到粉丝福利群", "to": "group", "group": "g-1"}),
        ("script", "m-1", {"text": "小林，欢迎！", "to": "member", "content": script}),
    ]


def test_send_coupon_once_per_run_and_node() -> None:
    report = run(
        chain(node("coupon", "action.send_coupon", coupon="welcome-10"), settings={"reentry": "always"}),
        [go("m-1", id="a"), go("m-1", "2026-11-23T10:00:00+08:00", id="b"), go("m-2")],
    )
    assert [(d["member"], d["at"], d["payload"]) for d in sent(report)] == [
        ("m-1", T, {"coupon": "welcome-10"}),
        ("m-2", T, {"coupon": "welcome-10"}),
        ("m-1", "2026-11-23T10:00:00+08:00", {"coupon": "welcome-10"}),
    ]


def test_send_coupon_once_when_forked_paths_meet_again() -> None:
    doc = flow(
        "f",
        [
            node("t", "trigger.event", event="go"),
            node("a", "action.add_tag", tags=["a"]),
            node("b", "wait.delay", duration="PT1H"),
            node("coupon", "action.send_coupon", coupon="c"),
        ],
        [("t", "a"), ("t", "b"), ("a", "coupon"), ("b", "coupon")],
    )
    report = run(doc, [go("m-1")])
    assert [(d["member"], d["at"]) for d in sent(report)] == [("m-1", T)]
    assert runs(report) == {"done": 1}


def test_start_flow_starts_the_member_on_another_live_flow() -> None:
    main = chain(
        node("tag", "action.add_tag", tags=["main"]),
        node("next", "action.start_flow", flow="second"),
        node("after", "action.add_points", points=1),
        settings={"reentry": "always"},
    )
    second = flow(
        "second",
        [
            node("entry", "trigger.event", event="never"),
            node("hi", "action.send_message", text="第二个流程 {{ event.data.n }}"),
        ],
        [("entry", "hi")],
    )
    report = run(
        [main, second], [go("m-1", data={"n": 1}), go("m-1", "2026-11-22T11:00:00+08:00", data={"n": 2})]
    )
    # `second` has the default re-entry `once`: the member enters it the first time only.
    assert [(d["flow"], d["member"], d["payload"]["text"]) for d in sent(report)] == [
        ("second", "m-1", "第二个流程 1")
    ]
    assert report["runs"]["second"]["done"] == 1
    assert report["nodes"]["second"] == {"entry": 1, "hi": 1}
    assert report["members"]["m-1"]["points"] == 2  # the calling flow goes on either way
    assert runs(report, "f") == {"done": 2}


def test_start_flow_of_a_flow_that_is_not_there_is_refused_as_publishing_would() -> None:
    with pytest.raises(FlowInvalid) as raised:
        run(chain(node("next", "action.start_flow", flow="ghost")), [go("m-1")])
    assert [(p.node, p.path) for p in raised.value.problems] == [("next", "config.flow")]


def test_exit_ends_the_run() -> None:
    report = run(chain(node("tag", "action.add_tag", tags=["x"]), node("bye", "action.exit")), [go("m-1")])
    assert runs(report) == {"exited": 1}
    assert report["nodes"]["f"] == {"t": 1, "tag": 1, "bye": 1}


def test_the_welcome_template_through_the_command_line(tmp_path: Path) -> None:
    lines = [
        event(
            "e1",
            "member_joined",
            "2026-11-22T10:00:00+08:00",
            member="m-1",
            group="g-fans-1",
            profile={"name": "小林"},
        ),
        event(
            "e2",
            "member_joined",
            "2026-11-22T10:05:00+08:00",
            member="m-2",
            group="g-fans-1",
            profile={"name": "阿强"},
        ),
        event("e3", "member_joined", "2026-11-22T11:00:00+08:00", member="m-3", group="g-traffic-1"),
        event(
            "e4", "message", "2026-11-23T09:00:00+08:00", member="m-1", group="g-fans-1", data={"text": "hi"}
        ),
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in lines), encoding="utf-8")
    members = tmp_path / "members.jsonl"
    members.write_text(json.dumps({"id": "m-2", "points": 3, "grade": "B"}) + "\n", encoding="utf-8")
    out = tmp_path / "report.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "qunflow.editor.cli",
            "simulate",
            "--flow",
            ROOT / "flows" / "welcome-vip.json",
            "--events",
            events,
            "--members",
            members,
            "--groups",
            ROOT / "flows" / "examples" / "welcome-vip.groups.jsonl",
            "--until",
            "P3D",
            "--out",
            out,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert [(d["at"], d["node"], d["member"], d["kind"]) for d in report["deliveries"]] == [
        ("2026-11-23T10:00:00+08:00", "coupon", "m-1", "coupon"),
        ("2026-11-23T10:00:00+08:00", "vip", "m-1", "invite"),
        ("2026-11-23T10:05:00+08:00", "coupon", "m-2", "coupon"),
        ("2026-11-23T10:05:00+08:00", "nudge", "m-2", "message"),
    ]
    assert report["deliveries"][3]["payload"] == {"text": "阿强，群里今天有新活动哦", "to": "member"}
    assert report["members"]["m-1"]["groups"] == ["g-fans-1", "vip-1"]
    assert report["members"]["m-2"] == {
        "tags": ["new"],
        "points": 3,
        "grade": "B",
        "stage": None,
        "groups": ["g-fans-1"],
        "blacklisted": False,
    }
    assert report["members"]["m-3"]["tags"] == []
    assert report["runs"] == {"welcome-vip": {"done": 2, "waiting": 0, "active": 0, "exited": 0, "failed": 0}}
    assert report["nodes"] == {
        "welcome-vip": {
            "joined": 2,
            "tag_new": 2,
            "wait_1d": 2,
            "coupon": 2,
            "active": 2,
            "vip": 1,
            "nudge": 1,
        }
    }


def test_flows_that_start_each_other_in_a_loop_stop(caplog: pytest.LogCaptureFixture) -> None:
    ping = chain(
        node("again", "action.start_flow", flow="pong"),
        trigger=node("t", "trigger.event", event="ping"),
        settings={"reentry": "always"},
    )
    ping["id"] = "ping"
    pong = flow(
        "pong",
        [node("t", "trigger.event", event="never"), node("back", "action.start_flow", flow="ping")],
        [("t", "back")],
        settings={"reentry": "always"},
    )
    report = run([ping, pong], [event("p", "ping", T, member="m-1")])
    total = report["runs"]["ping"]["done"] + report["runs"]["pong"]["done"]
    assert 2 < total < 100
    assert report["runs"]["ping"]["active"] == report["runs"]["pong"]["active"] == 0
    # Cut, but not silently: the log says which flow and member, once.
    cut = [r.getMessage() for r in caplog.records if r.name == "qunflow.engine"]
    assert len(cut) == 1 and "member m-1" in cut[0] and "loop" in cut[0], cut


def test_flows_that_tag_each_other_in_a_loop_stop() -> None:
    def swap(flow_id: str, on: str, to: str) -> dict[str, Any]:
        return flow(
            flow_id,
            [
                node("t", "trigger.tag_added", tags=[on]),
                node("rm", "action.remove_tag", tags=[on]),
                node("add", "action.add_tag", tags=[to]),
            ],
            [("t", "rm"), ("rm", "add")],
            settings={"reentry": "always"},
        )

    report = run(
        [swap("a", "y", "x"), swap("b", "x", "y")],
        [go("m-1"), event("e", "member_updated", T, member="m-1", profile={"tags": ["y"]})],
    )
    total = report["runs"]["a"]["done"] + report["runs"]["b"]["done"]
    assert 2 < total < 100
    assert len(report["members"]["m-1"]["tags"]) == 1
