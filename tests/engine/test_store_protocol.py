"""The store protocol (`engine.store.protocol`) is the contract the hot path is written against:
`Store` must satisfy it, and the hot path must ask nothing of the store outside it."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from qunflow.engine.store import Store
from qunflow.engine.store.protocol import BatchStore, EngineStore

ENGINE = Path(__file__).resolve().parents[2] / "engine"


def protocol_methods(protocol: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(protocol).items()
        if callable(member) and not name.startswith("_")
    } | {
        name: sig
        for base in protocol.__mro__[1:]
        if base.__dict__.get("_is_protocol")
        for name, sig in protocol_methods(base).items()
    }


def test_store_has_every_method_of_the_protocol_with_compatible_parameters() -> None:
    methods = protocol_methods(EngineStore)
    assert len(methods) > 25
    for name, wanted in methods.items():
        found = inspect.signature(getattr(Store, name))
        have = found.parameters
        for parameter in wanted.parameters.values():
            assert parameter.name in have, f"Store.{name} lacks `{parameter.name}`"
            if parameter.default is not inspect.Parameter.empty:
                assert have[parameter.name].default == parameter.default, f"Store.{name}({parameter.name})"
        extra = [p for p in have.values() if p.name not in wanted.parameters]
        assert all(p.default is not inspect.Parameter.empty for p in extra), f"Store.{name}: {extra}"


def store_calls(path: Path) -> set[str]:
    """The store methods a module calls (`self.store.x(...)`, `store.x(...)`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if (isinstance(owner, ast.Attribute) and owner.attr == "store") or (
                isinstance(owner, ast.Name) and owner.id == "store"
            ):
                found.add(node.func.attr)
    return found


def test_the_hot_path_asks_the_store_only_what_the_protocol_offers() -> None:
    batch_side = store_calls(ENGINE / "batch.py") | store_calls(ENGINE / "community.py")
    assert batch_side and batch_side <= set(protocol_methods(BatchStore)), batch_side - set(
        protocol_methods(BatchStore)
    )
    engine_side = store_calls(ENGINE / "schedule.py") | store_calls(ENGINE / "flow_cache.py")
    assert engine_side and engine_side <= set(protocol_methods(EngineStore)), engine_side - set(
        protocol_methods(EngineStore)
    )
