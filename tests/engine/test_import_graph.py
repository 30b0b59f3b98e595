"""The engine's modules import one another one way only (DESIGN §2: a one-way core).

The graph is read from the source with `ast`, so it sees every import the interpreter might run:
module level, inside functions, and under `if TYPE_CHECKING:` (a type-only import still ties two
modules together: one cannot be read, renamed or moved without the other). An import of `a.b.c`,
relative or absolute, is an edge to the module `a.b.c` — to `a.b` when `c` is a name defined in it —
and not to the packages above it: every module implicitly loads its package's `__init__`, which
would make any package that re-exports its modules cyclic by definition.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ENGINE = Path(__file__).resolve().parents[2] / "engine"
PACKAGE = "qunflow.engine"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ENGINE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])


def engine_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for path in sorted(ENGINE.rglob("*.py"))
        if "migrations" not in path.relative_to(ENGINE).parts
    }


def imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The engine modules `module` imports anywhere in its source."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # `from x import y`: y is a submodule, or a name defined in x.
            targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in known else source for a in node.names]
        else:
            continue
        found.update(t for t in targets if t in known and t != module)
    return found


def import_graph() -> nx.DiGraph:
    modules = engine_modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for module, path in modules.items():
        graph.add_edges_from((module, target) for target in imported(module, path, set(modules)))
    return graph


def test_the_engine_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, "import cycles in engine/: " + "; ".join(" → ".join(c + c[:1]) for c in cycles[:5])


def test_the_graph_sees_relative_absolute_function_and_type_checking_imports() -> None:
    graph = import_graph()
    # Sanity: the reader finds edges of each kind, so an empty graph cannot pass the test above.
    assert graph.has_edge(f"{PACKAGE}.batch", f"{PACKAGE}.context")  # relative, module level
    assert graph.has_edge(f"{PACKAGE}.store.store", f"{PACKAGE}.store.schema")  # `from . import schema`
    assert graph.number_of_edges() > 40


def test_the_engine_imports_no_node_and_no_web_app() -> None:
    for module, path in engine_modules().items():
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                assert not node.module.startswith(("qunflow.nodes", "qunflow.editor")), module
