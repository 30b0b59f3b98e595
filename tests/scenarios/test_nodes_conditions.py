"""Scenario tests of the condition nodes, run through `simulate`."""

from __future__ import annotations

from typing import Any

from documents import event, flow, node
from kit import run, runs, tags

T = "2026-11-22T10:00:00+08:00"  # a Sunday


def branching(
    condition: dict[str, Any],
    ports: tuple[str, ...] = ("true", "false"),
    trigger: str = "check",
    **extra: Any,
) -> dict[str, Any]:
    """check event → condition → one tagging node per port (the tag is the port's name)."""
    nodes = [node("t", "trigger.event", event=trigger), condition]
    edges: list[Any] = [("t", condition["id"])]
    for port in ports:
        nodes.append(node(f"to_{port}", "action.add_tag", tags=[port]))
        edges.append((condition["id"], port, f"to_{port}"))
    return flow("f", nodes, edges, **extra)


def check(member: str, at: str = T, id: str | None = None, **fields: Any) -> dict[str, Any]:
    return event(id or f"check-{member}-{at}", "check", at, member=member, **fields)


def port_taken(report: dict[str, Any], member: str) -> list[str]:
    return tags(report, member)


def test_has_tag_any_and_all() -> None:
    members = [
        {"id": "both", "tags": ["a", "b"]},
        {"id": "one", "tags": ["b"]},
        {"id": "none", "tags": ["c"]},
    ]
    events = [check(m["id"]) for m in members]
    any_ = run(branching(node("c", "condition.has_tag", tags=["a", "b"])), events, members=members)
    all_ = run(
        branching(node("c", "condition.has_tag", tags=["a", "b"], mode="all")), events, members=members
    )
    assert [port_taken(any_, m) for m in ("both", "one", "none")] == [
        ["a", "b", "true"],
        ["b", "true"],
        ["c", "false"],
    ]
    assert [port_taken(all_, m) for m in ("both", "one", "none")] == [
        ["a", "b", "true"],
        ["b", "false"],
        ["c", "false"],
    ]
    assert any_["nodes"]["f"] == {"t": 3, "c": 3, "to_true": 2, "to_false": 1}


def test_active_counts_messages_within_the_window_edges_included() -> None:
    doc = branching(node("c", "condition.active", within="PT1H"))
    report = run(
        doc,
        [
            # exactly at now − within: counts
            event("a1", "message", "2026-11-22T10:00:00+08:00", member="edge"),
            check("edge", "2026-11-22T11:00:00+08:00"),
            # one second too early: does not count
            event("b1", "message", "2026-11-22T10:00:00+08:00", member="late"),
            check("late", "2026-11-22T11:00:01+08:00"),
            # a message at the very moment of the check counts
            event("c1", "message", "2026-11-22T12:00:00+08:00", member="now"),
            check("now", "2026-11-22T12:00:00+08:00"),
            # another member's messages are not mine
            check("quiet", "2026-11-22T10:30:00+08:00"),
        ],
    )
    assert {m: port_taken(report, m) for m in ("edge", "late", "now", "quiet")} == {
        "edge": ["true"],
        "late": ["false"],
        "now": ["true"],
        "quiet": ["false"],
    }


def test_active_min_messages() -> None:
    doc = branching(node("c", "condition.active", within="P1D", min_messages=3))
    chat = [
        event(f"{m}{i}", "message", f"2026-11-22T0{i}:00:00+08:00", member=m)
        for m in ("two", "three")
        for i in range(2 if m == "two" else 3)
    ]
    report = run(
        doc, [*chat, check("two", "2026-11-22T09:00:00+08:00"), check("three", "2026-11-22T09:00:00+08:00")]
    )
    assert (port_taken(report, "two"), port_taken(report, "three")) == (["false"], ["true"])


def test_attribute_compares_member_and_event_fields() -> None:
    members = [
        {"id": "rich", "points": 120, "total_spend": 500, "attributes": {"city": "上海"}, "tags": ["vip"]},
        {"id": "poor", "points": 5, "attributes": {"city": "北京"}},
    ]
    cases = {
        "points": {"field": "member.points", "op": "gte", "value": 100},
        "city": {"field": "member.attributes.city", "op": "eq", "value": "上海"},
        "spend": {"field": "member.total_spend", "op": "gt", "value": 499.5},
        "tag": {"field": "member.tags", "op": "contains", "value": "vip"},
        "amount": {"field": "event.data.amount", "op": "lt", "value": 10},
        "missing": {"field": "member.attributes.nope", "op": "exists"},
    }
    seen = {}
    for name, config in cases.items():
        report = run(
            branching(node("c", "condition.attribute", **config)),
            [check("rich", data={"amount": 50}), check("poor", data={"amount": 3})],
            members=members,
        )
        seen[name] = ("true" in port_taken(report, "rich"), "true" in port_taken(report, "poor"))
    assert seen == {
        "points": (True, False),
        "city": (True, False),
        "spend": (True, False),
        "tag": (True, False),
        "amount": (False, True),
        "missing": (False, False),
    }


def test_in_group() -> None:
    report = run(
        branching(node("c", "condition.in_group", groups=["g-1", "g-2"])),
        [
            event("j1", "member_joined", T, member="in", group="g-2"),
            event("j2", "member_joined", T, member="out", group="g-3"),
            event("l2", "member_left", "2026-11-22T10:30:00+08:00", member="gone", group="g-1"),
            check("in", "2026-11-22T11:00:00+08:00"),
            check("out", "2026-11-22T11:00:00+08:00"),
            check("gone", "2026-11-22T11:00:00+08:00"),
        ],
        members=[{"id": "gone", "groups": ["g-1"]}],
    )
    assert {m: port_taken(report, m) for m in ("in", "out", "gone")} == {
        "in": ["true"],
        "out": ["false"],
        "gone": ["false"],
    }


def test_switch_first_match_wins_else_default() -> None:
    cases = [
        {"port": "s", "op": "eq", "value": "S"},
        {"port": "top", "op": "in", "value": ["S", "A"]},
        {"port": "graded", "op": "exists"},
    ]
    members = [
        {"id": "s", "grade": "S"},
        {"id": "a", "grade": "A"},
        {"id": "c", "grade": "C"},
        {"id": "none"},
    ]
    report = run(
        branching(
            node("c", "condition.switch", field="member.grade", cases=cases),
            ("s", "top", "graded", "default"),
        ),
        [check(m["id"]) for m in members],
        members=members,
    )
    assert {m["id"]: port_taken(report, m["id"]) for m in members} == {
        "s": ["s"],
        "a": ["top"],
        "c": ["graded"],
        "none": ["default"],
    }


SPLIT = node("c", "condition.split", branches=[{"port": "a", "percent": 30}, {"port": "b", "percent": 70}])


def test_split_is_stable_for_a_member_across_runs() -> None:
    events = [
        check(f"m-{i}", f"2026-11-{22 + day}T10:00:00+08:00", id=f"c{i}-{day}")
        for i in range(20)
        for day in range(4)
    ]
    report = run(branching(SPLIT, ("a", "b"), settings={"reentry": "always"}), events)
    assert runs(report) == {"done": 80}
    for i in range(20):
        # every run of the member took the same branch, so the member has exactly one of the tags
        assert len(port_taken(report, f"m-{i}")) == 1
    assert report["nodes"]["f"]["to_a"] % 4 == 0


def test_split_is_the_same_in_a_second_simulation() -> None:
    events = [check(f"m-{i}") for i in range(50)]
    first = run(branching(SPLIT, ("a", "b")), events)
    second = run(branching(SPLIT, ("a", "b")), list(reversed(events)))
    assert first["members"] == second["members"]


def test_split_shares_match_the_percentages() -> None:
    report = run(branching(SPLIT, ("a", "b")), [check(f"m-{i}") for i in range(2000)])
    counts = report["nodes"]["f"]
    assert counts["to_a"] + counts["to_b"] == 2000
    assert abs(counts["to_a"] / 2000 - 0.30) <= 0.05
    assert abs(counts["to_b"] / 2000 - 0.70) <= 0.05


def test_split_three_ways_with_a_zero_branch() -> None:
    split = node(
        "c",
        "condition.split",
        branches=[{"port": "a", "percent": 0}, {"port": "b", "percent": 50}, {"port": "c", "percent": 50}],
    )
    report = run(branching(split, ("a", "b", "c")), [check(f"m-{i}") for i in range(600)])
    counts = report["nodes"]["f"]
    assert "to_a" not in counts
    assert abs(counts["to_b"] / 600 - 0.5) <= 0.07


def test_time_window_overnight() -> None:
    doc = branching(node("c", "condition.time_window", start="22:00", end="06:00"))
    moments = {
        "before": "2026-11-22T21:59:59+08:00",
        "start": "2026-11-22T22:00:00+08:00",
        "midnight": "2026-11-23T00:00:00+08:00",
        "last": "2026-11-23T05:59:59+08:00",
        "end": "2026-11-23T06:00:00+08:00",
        "utc_late": "2026-11-22T15:30:00+00:00",  # 23:30 in Shanghai
    }
    report = run(doc, [check(m, at) for m, at in moments.items()])
    assert {m: port_taken(report, m) for m in moments} == {
        "before": ["false"],
        "start": ["true"],
        "midnight": ["true"],
        "last": ["true"],
        "end": ["false"],
        "utc_late": ["true"],
    }


def test_time_window_weekdays() -> None:
    office = branching(
        node(
            "c", "condition.time_window", start="09:00", end="18:00", days=["mon", "tue", "wed", "thu", "fri"]
        )
    )
    moments = {
        "sunday": "2026-11-22T10:00:00+08:00",
        "monday": "2026-11-23T10:00:00+08:00",
        "monday_evening": "2026-11-23T18:00:00+08:00",
        "friday": "2026-11-27T17:59:00+08:00",
        "saturday": "2026-11-28T10:00:00+08:00",
    }
    report = run(office, [check(m, at) for m, at in moments.items()])
    assert {m: port_taken(report, m) for m in moments} == {
        "sunday": ["false"],
        "monday": ["true"],
        "monday_evening": ["false"],
        "friday": ["true"],
        "saturday": ["false"],
    }
    # An overnight window belongs to the day it starts on: Friday night runs into Saturday morning.
    friday_night = branching(node("c", "condition.time_window", start="22:00", end="02:00", days=["fri"]))
    nights = {
        "fri_late": "2026-11-27T23:00:00+08:00",
        "sat_early": "2026-11-28T01:00:00+08:00",
        "sat_late": "2026-11-28T23:00:00+08:00",
        "fri_early": "2026-11-27T01:00:00+08:00",
    }
    report = run(friday_night, [check(m, at) for m, at in nights.items()])
    assert {m: port_taken(report, m) for m in nights} == {
        "fri_late": ["true"],
        "sat_early": ["true"],
        "sat_late": ["false"],
        "fri_early": ["false"],
    }


def test_time_window_uses_the_flows_timezone() -> None:
    doc = branching(
        node("c", "condition.time_window", start="09:00", end="10:00"), timezone="America/New_York"
    )
    report = run(doc, [check("ny", "2026-11-22T09:30:00-05:00"), check("sh", "2026-11-22T09:30:00+08:00")])
    assert (port_taken(report, "ny"), port_taken(report, "sh")) == (["true"], ["false"])
