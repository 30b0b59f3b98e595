"""The node API and the built-in library: declarations, defaults, schemas, titles, the README's example."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from documents import event, flow, node

from qunflow.engine import (
    NEXT,
    Context,
    NodeType,
    Outcome,
    Registry,
    action,
    condition,
    default_registry,
    trigger,
)
from qunflow.engine.event import convert_events
from qunflow.engine.registry import NodeDeclarationError
from qunflow.engine.simulate import simulate

ROOT = Path(__file__).resolve().parents[2]

ISSUE_2_NODES = {
    "trigger.contact_added",
    "trigger.member_joined",
    "trigger.member_left",
    "trigger.message",
    "trigger.purchase",
    "trigger.tag_added",
    "trigger.event",
    "condition.has_tag",
    "condition.active",
    "condition.attribute",
    "condition.in_group",
    "condition.switch",
    "condition.split",
    "condition.time_window",
    "wait.delay",
    "wait.until_time",
    "wait.for_event",
    "action.add_tag",
    "action.remove_tag",
    "action.set_attribute",
    "action.add_points",
    "action.set_grade",
    "action.set_stage",
    "action.send_message",
    "action.send_coupon",
    "action.start_flow",
    "action.exit",
}
# Nodes whose configs need one of several optional fields: (what the error names, a minimal config).
ONE_OF: dict[str, tuple[str, dict[str, Any]]] = {
    "action.send_message": ("`text` or `content`", {"text": "你好"}),
    "action.send_welcome": ("`text` or `content`", {"text": "欢迎"}),
}
BUILT_INS = sorted(t.type for t in default_registry())


def required_fields(config: type[msgspec.Struct]) -> list[str]:
    info = mi.type_info(config)
    assert isinstance(info, mi.StructType)
    return [f.encode_name for f in info.fields if f.required]


def test_the_issue_2_nodes_are_registered_through_the_entry_point() -> None:
    assert ISSUE_2_NODES <= set(BUILT_INS)
    assert all(t.type.split(".")[0] == t.kind for t in default_registry() if t.type in ISSUE_2_NODES)


@pytest.mark.parametrize("type_id", BUILT_INS)
def test_a_built_in_node_loads_with_defaults_when_nothing_is_required(type_id: str) -> None:
    node_type = default_registry().get(type_id)
    assert node_type is not None
    required = required_fields(node_type.config)
    if required:
        with pytest.raises(msgspec.ValidationError, match=re.escape(f"`{required[0]}`")):
            msgspec.convert({}, node_type.config)
    elif type_id in ONE_OF:
        # No single field is required, but one of several is: the error says so, and one is enough.
        with pytest.raises(msgspec.ValidationError, match=ONE_OF[type_id][0]):
            msgspec.convert({}, node_type.config)
        assert isinstance(msgspec.convert(ONE_OF[type_id][1], node_type.config), node_type.config)
    else:
        config = msgspec.convert({}, node_type.config)
        assert isinstance(config, node_type.config)
        assert node_type.ports_for(config) is not None


@pytest.mark.parametrize("type_id", BUILT_INS)
def test_a_built_in_node_describes_itself(type_id: str) -> None:
    node_type = default_registry().get(type_id)
    assert node_type is not None
    described = node_type.describe()
    assert described["type"] == type_id
    assert described["title"]["zh"] and described["title"]["en"]
    assert re.search(r"[\u4e00-\u9fff]", described["title"]["zh"])
    schema = described["schema"]
    assert "$ref" in schema or schema.get("type") == "object"
    msgspec.json.encode(described)  # the registry is served as JSON
    settings = node_type.config.__struct_config__
    assert settings.frozen and settings.forbid_unknown_fields


def test_ports_are_declared_per_kind_or_by_the_config() -> None:
    registry = default_registry()

    def ports(type_id: str, config: dict[str, Any] | None = None) -> tuple[str, ...]:
        node_type = registry.get(type_id)
        assert node_type is not None
        return node_type.ports_for(
            msgspec.convert(config or {}, node_type.config) if config is not None else None
        )

    assert ports("condition.has_tag", {"tags": ["x"]}) == ("true", "false")
    assert ports("wait.for_event", {"event": "purchase", "timeout": "P1D"}) == ("event", "timeout")
    assert ports("action.exit", {}) == ()
    assert ports("condition.switch", {"field": "member.grade", "cases": [{"port": "s", "value": "S"}]}) == (
        "s",
        "default",
    )
    assert ports("trigger.event", {"event": "x"}) == ("next",)


def readme_node_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Writing a node", 1)[1]
    section = re.split(r"^## ", section, maxsplit=1, flags=re.M)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README's 'Writing a node' section has no python example"
    return match.group(1)


def test_the_readme_example_node_runs_in_a_flow(registry: Registry) -> None:
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(readme_node_example(), "README.md", "exec", dont_inherit=True), namespace)  # noqa: S102
    namespace["register"](registry)
    custom = [t for t in registry if t.type not in BUILT_INS]
    assert len(custom) == 1
    type_id = custom[0].type
    assert type_id not in default_registry()  # the copy got it, the shared registry did not

    doc = flow(
        "crm",
        [
            node("t", "trigger.member_joined"),
            {"id": "lookup", "type": type_id, "config": {}},
            node("say", "action.send_message", text="level={{ run.vars.crm_level }}"),
        ],
        [("t", "lookup"), ("lookup", "say")],
    )
    events = convert_events(
        [
            event(
                "e1",
                "member_joined",
                "2026-11-22T10:00:00+08:00",
                member="gold",
                group="g",
                profile={"attributes": {"vip_level": "gold"}},
            ),
            event("e2", "member_joined", "2026-11-22T10:00:00+08:00", member="plain", group="g"),
        ]
    )
    report = simulate([doc], events, "P1D", registry=registry)
    assert {d["member"]: d["payload"]["text"] for d in report["deliveries"]} == {
        "gold": "level=gold",
        "plain": "level=none",
    }
    assert report["runs"]["crm"]["done"] == 2
    assert report["nodes"]["crm"] == {"t": 2, "lookup": 2, "say": 2}


def test_a_flow_with_the_custom_node_is_invalid_without_it(registry: Registry) -> None:
    from qunflow.engine import check

    doc = flow(
        "crm",
        [node("t", "trigger.member_joined"), {"id": "x", "type": "acme.crm_lookup", "config": {}}],
        [("t", "x")],
    )
    _, _, problems = check(doc, registry)
    assert [(p.node, p.path) for p in problems] == [("x", "type")]


# -- declaration errors, at decoration time -----------------------------------------------------------


class Loose(msgspec.Struct):
    x: int = 0


class Frozen(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    x: int = 0


class FrozenOnly(msgspec.Struct, frozen=True):
    x: int = 0


def test_a_config_that_is_not_frozen_is_refused_when_declared() -> None:
    decorate = action("acme.loose", title={"zh": "松", "en": "Loose"})
    with pytest.raises(NodeDeclarationError, match="frozen"):

        @decorate
        def loose(ctx: Context, config: Loose) -> Outcome:
            return NEXT


def test_a_config_that_allows_unknown_fields_is_refused() -> None:
    with pytest.raises(NodeDeclarationError, match="forbid_unknown_fields"):

        @action("acme.frozen_only", title={"zh": "冻", "en": "Frozen"})
        def frozen_only(ctx: Context, config: FrozenOnly) -> Outcome:
            return NEXT


def test_a_step_without_a_config_parameter_is_refused() -> None:
    with pytest.raises(NodeDeclarationError, match="config"):

        @action("acme.no_config", title={"zh": "无", "en": "None"})
        def no_config(ctx: Context) -> Outcome:
            return NEXT


@pytest.mark.parametrize(
    ("declare", "words"),
    [
        (lambda: action("nodot", title={"zh": "无", "en": "x"}), "vendor.name"),
        (lambda: action("acme.x", title={"en": "x"}), "zh"),
        (lambda: condition("acme.x", title={"zh": "无"}), "en"),
        (lambda: trigger("acme.x", title={"zh": "无", "en": "x"}), "on="),
    ],
)
def test_bad_declarations_are_refused_before_the_function(declare: Any, words: str) -> None:
    with pytest.raises(NodeDeclarationError, match=re.escape(words)):
        declare()


def test_a_type_id_registered_twice_is_refused(registry: Registry) -> None:
    @action("action.add_tag", title={"zh": "假", "en": "Fake"})
    def fake(ctx: Context, config: Frozen) -> Outcome:
        return NEXT

    with pytest.raises(NodeDeclarationError, match="twice"):
        registry.add(fake)
    registry.add(default_registry().get("action.add_tag"))  # the same node again is fine
    with pytest.raises(NodeDeclarationError):
        registry.add(lambda: None)


def test_a_declared_node_carries_its_type() -> None:
    @condition("acme.even", title={"zh": "偶数", "en": "Even"}, icon="hash", version=2)
    def even(ctx: Context, config: Frozen) -> Outcome:
        return NEXT

    node_type = even.node_type  # type: ignore[attr-defined]
    assert isinstance(node_type, NodeType)
    assert (node_type.type, node_type.kind, node_type.icon, node_type.version) == (
        "acme.even",
        "condition",
        "hash",
        2,
    )
    assert node_type.ports_for(Frozen()) == ("true", "false")
    registry = Registry([node_type])
    assert len(registry) == 1 and "acme.even" in registry
