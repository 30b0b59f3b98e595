"""`qunflow.sdk` is the one door for node authors, and the built-in nodes use nothing else."""

from __future__ import annotations

import ast
from datetime import datetime
from pathlib import Path

import msgspec
import pytest

import qunflow.sdk as sdk
from qunflow.engine import default_registry

NODES = Path(__file__).resolve().parents[2] / "nodes"


def test_the_sdk_exports_what_it_lists() -> None:
    assert sorted(sdk.__all__) == sorted(set(sdk.__all__))
    for name in sdk.__all__:
        assert hasattr(sdk, name), name
    # The decorators, the context, the outcomes, the config base and the setting types named in DESIGN §2.
    for name in ("action", "condition", "trigger", "wait", "Context", "NEXT", "Go", "WaitUntil", "WaitFor"):
        assert name in sdk.__all__
    for name in ("EXIT", "Fail", "TRUE", "FALSE", "branch", "Config", "Template", "FieldPath", "FlowRef"):
        assert name in sdk.__all__
    for name in ("Duration", "TimeOfDay", "Name", "Names", "Audience", "Grade", "Stage", "Registry"):
        assert name in sdk.__all__
    for name in ("local_moment", "next_time_of_day", "in_window"):
        assert name in sdk.__all__


def test_the_built_in_nodes_import_nothing_of_qunflow_but_the_sdk() -> None:
    found: dict[str, set[str]] = {}
    for path in sorted(NODES.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                if module.split(".")[0] in ("qunflow", "engine", "editor", "nodes"):
                    found.setdefault(module, set()).add(path.name)
    assert set(found) == {"qunflow.sdk"}, found


def test_every_built_in_config_is_an_sdk_config() -> None:
    for node_type in default_registry():
        if node_type.type.startswith(("trigger.", "condition.", "wait.", "action.")):
            assert issubclass(node_type.config, sdk.Config), node_type.type


class Lookup(sdk.Config):
    field: sdk.Name = "vip"


class Loose(msgspec.Struct):
    x: int = 0


def test_a_config_is_frozen_and_refuses_unknown_fields() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field `fild`"):
        msgspec.convert({"fild": "x"}, Lookup)
    with pytest.raises(AttributeError):
        Lookup().field = "other"  # type: ignore[misc]

    @sdk.action("acme.lookup", title={"zh": "查询", "en": "Lookup"})
    def lookup(ctx: sdk.Context, config: Lookup) -> sdk.Outcome:
        return sdk.NEXT

    assert lookup.node_type.config is Lookup  # type: ignore[attr-defined]


def test_a_plain_struct_that_is_not_frozen_is_refused_at_declaration() -> None:
    with pytest.raises(sdk.NodeDeclarationError, match="frozen"):

        @sdk.action("acme.loose", title={"zh": "松", "en": "Loose"})
        def loose(ctx: sdk.Context, config: Loose) -> sdk.Outcome:
            return sdk.NEXT


def test_outcomes_compare_by_what_they_say() -> None:
    assert sdk.Go("next") == sdk.NEXT and sdk.branch(True) == sdk.Go("true") != sdk.FALSE
    assert sdk.Fail("x") == sdk.Fail("x") != sdk.Fail("y")
    assert sdk.WaitFor("purchase") != sdk.WaitUntil(datetime(2026, 1, 1))
    assert len({sdk.Go("a"), sdk.Go("a"), sdk.EXIT}) == 2
