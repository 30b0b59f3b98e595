"""Validation and compilation: every problem at once, each pinned to its node and config path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from documents import flow, node

from qunflow.engine import FlowInvalid, Problem, Registry, check, compile_flow

ROOT = Path(__file__).resolve().parents[2]
TRIGGER = node("t", "trigger.member_joined")


def problems(document: Any, registry: Registry) -> list[Problem]:
    _, _, found = check(document, registry)
    return found


def only(document: Any, registry: Registry) -> Problem:
    found = problems(document, registry)
    assert len(found) == 1, [p.line() for p in found]
    return found[0]


def tag(id: str, *tags: str) -> dict[str, Any]:
    return node(id, "action.add_tag", tags=list(tags) or ["x"])


def test_a_valid_flow_has_no_problems_and_compiles(registry: Registry) -> None:
    doc = flow(
        "f",
        [TRIGGER, tag("a"), node("c", "condition.has_tag", tags=["x"]), tag("yes"), tag("no")],
        [("t", "a"), ("a", "c"), ("c", "true", "yes"), ("c", "false", "no")],
    )
    assert problems(doc, registry) == []
    plan = compile_flow(doc, registry, version=3)
    assert plan.version == 3
    assert plan.nodes["c"].next == {"true": ("yes",), "false": ("no",)}
    assert [n.id for n in plan.triggers["member_joined"]] == ["t"]
    assert plan.forks is False


def test_the_shipped_template_is_valid(registry: Registry) -> None:
    assert problems((ROOT / "flows" / "welcome-vip.json").read_bytes(), registry) == []


def test_a_cycle_is_reported_on_a_node_of_the_loop(registry: Registry) -> None:
    doc = flow("f", [TRIGGER, tag("a"), tag("b"), tag("c")], [("t", "a"), ("a", "b"), ("b", "c"), ("c", "a")])
    problem = only(doc, registry)
    assert problem.node in {"a", "b", "c"}
    assert "loops" in problem.message
    loop = problem.message.rsplit(": ", 1)[1].split(" → ")
    assert loop[0] == loop[-1] == problem.node
    assert sorted(loop[:-1]) == ["a", "b", "c"]


def test_an_unknown_node_type_names_the_node(registry: Registry) -> None:
    problem = only(flow("f", [TRIGGER, node("a", "action.nope")], [("t", "a")]), registry)
    assert (problem.node, problem.path) == ("a", "type")
    assert "action.nope" in problem.message


def test_a_duration_that_is_not_iso_8601_names_the_config_path(registry: Registry) -> None:
    problem = only(flow("f", [TRIGGER, node("w", "wait.delay", duration="soon")], [("t", "w")]), registry)
    assert (problem.node, problem.path) == ("w", "config.duration")
    assert "duration" in problem.message.lower()


def test_split_percentages_must_add_up_to_100(registry: Registry) -> None:
    split = node(
        "s", "condition.split", branches=[{"port": "a", "percent": 50}, {"port": "b", "percent": 40}]
    )
    problem = only(flow("f", [TRIGGER, split], [("t", "s")]), registry)
    assert problem.node == "s"
    assert problem.path.startswith("config")
    assert "100" in problem.message


def test_a_time_window_that_starts_when_it_ends_is_refused(registry: Registry) -> None:
    window = node("w", "condition.time_window", start="09:00", end="09:00")
    problem = only(flow("f", [TRIGGER, window], [("t", "w")]), registry)
    assert problem.node == "w"
    assert "never" in problem.message
    overnight = node("w", "condition.time_window", start="22:00", end="06:00")
    assert problems(flow("f", [TRIGGER, overnight], [("t", "w")]), registry) == []


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ({"tags": []}, "config.tags"),
        ({"tags": ["x"], "colour": "red"}, "config"),
        ({}, "config"),
        ({"tags": "x"}, "config.tags"),
    ],
)
def test_bad_configs_name_the_node_and_field(registry: Registry, config: dict[str, Any], path: str) -> None:
    problem = only(flow("f", [TRIGGER, node("a", "action.add_tag", **config)], [("t", "a")]), registry)
    assert problem.node == "a"
    assert problem.path == path
    if "colour" in config:
        assert "colour" in problem.message
    if not config:
        assert "tags" in problem.message


def test_a_nested_config_error_has_the_full_path(registry: Registry) -> None:
    bad = node(
        "s",
        "condition.switch",
        field="member.grade",
        cases=[{"port": "a", "op": "eq"}, {"port": "b", "op": "bogus"}],
    )
    problem = only(flow("f", [TRIGGER, bad], [("t", "s")]), registry)
    assert (problem.node, problem.path) == ("s", "config.cases[1].op")


def test_a_port_the_source_does_not_have(registry: Registry) -> None:
    problem = only(flow("f", [TRIGGER, tag("a")], [("t", "true", "a")]), registry)
    assert (problem.node, problem.path) == ("t", "edges[0].port")
    assert "true" in problem.message


def test_dynamic_ports_come_from_the_config(registry: Registry) -> None:
    split = node(
        "s", "condition.split", branches=[{"port": "A", "percent": 50}, {"port": "B", "percent": 50}]
    )
    good = flow("f", [TRIGGER, split, tag("a"), tag("b")], [("t", "s"), ("s", "A", "a"), ("s", "B", "b")])
    assert problems(good, registry) == []
    bad = flow("f", [TRIGGER, split, tag("a")], [("t", "s"), ("s", "C", "a")])
    problem = only(bad, registry)
    assert (problem.node, problem.path) == ("s", "edges[1].port")


def test_edges_to_and_from_missing_nodes(registry: Registry) -> None:
    found = problems(flow("f", [TRIGGER, tag("a")], [("t", "a"), ("t", "ghost"), ("phantom", "a")]), registry)
    assert [(p.node, p.path) for p in found] == [("t", "edges[1].to"), ("phantom", "edges[2].from")]
    assert "ghost" in found[0].message
    assert "phantom" in found[1].message


def test_duplicate_node_ids(registry: Registry) -> None:
    problem = only(flow("f", [TRIGGER, tag("a"), tag("a")], [("t", "a")]), registry)
    assert (problem.node, problem.path) == ("a", "id")
    assert "duplicate" in problem.message


def test_unreachable_nodes_are_each_named(registry: Registry) -> None:
    found = problems(
        flow("f", [TRIGGER, tag("a"), tag("island"), tag("after")], [("t", "a"), ("island", "after")]),
        registry,
    )
    assert sorted(p.node for p in found) == ["after", "island"]
    assert all("trigger" in p.message for p in found)


def test_a_flow_without_a_trigger(registry: Registry) -> None:
    found = problems(flow("f", [tag("a"), tag("b")], [("a", "b")]), registry)
    assert len(found) == 1
    assert found[0].node is None
    assert "trigger" in found[0].message


def test_an_edge_into_a_trigger(registry: Registry) -> None:
    doc = flow("f", [TRIGGER, tag("a"), node("t2", "trigger.message")], [("t", "a"), ("a", "t2")])
    problem = only(doc, registry)
    assert (problem.node, problem.path) == ("t2", "edges[1].to")


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("hi {{ member.foo }}", "member.foo"),
        ("{{ 1+1 }}", "1+1"),
        ("{{ member.name.__class__ }}", "member.name.__class__"),
        ("{{ os.environ }}", "os.environ"),
        ("{{ member.attributes }}", "member.attributes"),
    ],
)
def test_template_placeholders_must_be_known_dotted_paths(registry: Registry, text: str, bad: str) -> None:
    problem = only(flow("f", [TRIGGER, node("m", "action.send_message", text=text)], [("t", "m")]), registry)
    assert (problem.node, problem.path) == ("m", "config.text")
    assert bad in problem.message


def test_good_placeholders_pass(registry: Registry) -> None:
    text = (
        "{{ member.name }} {{member.attributes.city}} {{ event.data.product }} {{ group.name }} "
        "{{ run.vars.x }} {{ member.points }}"
    )
    assert (
        problems(flow("f", [TRIGGER, node("m", "action.send_message", text=text)], [("t", "m")]), registry)
        == []
    )


def test_a_bad_regular_expression_is_a_config_problem(registry: Registry) -> None:
    bad = node("t", "trigger.message", keywords=["ok", "(["], match="regex")
    problem = only(flow("f", [bad]), registry)
    assert (problem.node, problem.path) == ("t", "config")
    assert "([" in problem.message
    # The same text is fine as a plain keyword.
    assert problems(flow("f", [node("t", "trigger.message", keywords=["(["])]), registry) == []


def test_field_paths_in_conditions_are_checked(registry: Registry) -> None:
    cond = node("c", "condition.attribute", field="member.foo", op="eq", value=1)
    problem = only(flow("f", [TRIGGER, cond], [("t", "c")]), registry)
    assert (problem.node, problem.path) == ("c", "config.field")


def test_flow_level_settings_are_checked(registry: Registry) -> None:
    doc = flow(
        "f", [TRIGGER, tag("a")], [("t", "a")], timezone="Mars/Base", settings={"reentry": "sometimes"}
    )
    found = problems(doc, registry)
    assert sorted((p.node, p.path) for p in found) == [(None, "settings.reentry"), (None, "timezone")]


def test_every_problem_is_reported_at_once(registry: Registry) -> None:
    doc = flow(
        "f",
        [
            TRIGGER,
            node("unknown", "action.nope"),
            node("slow", "wait.delay", duration="soon"),
            tag("a"),
            tag("a"),
            node("msg", "action.send_message", text="{{ 1+1 }}"),
        ],
        [("t", "unknown"), ("t", "slow"), ("t", "true", "a"), ("a", "nowhere"), ("t", "msg")],
    )
    found = problems(doc, registry)
    assert sorted((p.node, p.path) for p in found) == [
        ("a", "edges[3].to"),
        ("a", "id"),
        ("msg", "config.text"),
        ("slow", "config.duration"),
        ("t", "edges[2].port"),
        ("unknown", "type"),
    ]
    with pytest.raises(FlowInvalid) as raised:
        compile_flow(doc, registry)
    assert raised.value.problems == found
    assert "and 5 more" in str(raised.value)


@pytest.mark.parametrize("garbage", [b"garbage{", b"", b"[1, 2]", b"\xff\xfe", b'"a flow"', b"null"])
def test_garbage_gives_one_problem_and_no_exception(registry: Registry, garbage: bytes) -> None:
    found = problems(garbage, registry)
    assert len(found) == 1
    assert found[0].node is None


@pytest.mark.parametrize("decoded", [[1, 2], 3, None, True])
def test_decoded_json_that_is_not_an_object_is_one_problem(registry: Registry, decoded: Any) -> None:
    [problem] = problems(decoded, registry)
    assert "object" in problem.message


def test_a_document_missing_a_field_says_which(registry: Registry) -> None:
    found = problems(msgspec.json.encode({"id": "f"}), registry)
    assert len(found) == 1
    assert "nodes" in found[0].message
    assert "not valid JSON" not in found[0].message


def test_a_malformed_node_names_it(registry: Registry) -> None:
    doc = msgspec.json.encode(flow("f", [TRIGGER, {"id": "a", "config": {}}], [("t", "a")]))
    problem = only(doc, registry)
    assert problem.node == "a"
    assert "type" in problem.message


def test_problem_lines_read_node_path_message() -> None:
    assert Problem("a", "config.tags", "bad").line() == "a: config.tags: bad"
    assert Problem(None, "", "bad").line() == "flow: -: bad"


def test_the_plan_indexes_triggers_by_event_type(registry: Registry) -> None:
    doc = flow(
        "f",
        [node("j", "trigger.member_joined"), node("e", "trigger.event", event="signup"), tag("a")],
        [("j", "a"), ("e", "a")],
    )
    plan = compile_flow(doc, registry)
    assert {k: [n.id for n in v] for k, v in plan.triggers.items()} == {
        "member_joined": ["j"],
        "signup": ["e"],
    }


def test_forks_are_noticed(registry: Registry) -> None:
    plan = compile_flow(flow("f", [TRIGGER, tag("a"), tag("b")], [("t", "a"), ("t", "b")]), registry)
    assert plan.forks is True
    assert plan.nodes["t"].next == {"next": ("a", "b")}


def test_a_duration_beyond_ten_years_is_a_problem_of_its_node(registry: Registry) -> None:
    doc = flow(
        nodes=[
            node("joined", "trigger.member_joined"),
            node("wait", "wait.delay", duration="P999999999D"),
        ],
        edges=[("joined", "wait")],
    )
    _, _, problems = check(doc, registry)
    assert [(p.node, p.path) for p in problems] == [("wait", "config.duration")]
    assert "ten years" in problems[0].message
