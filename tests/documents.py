"""Flow and event documents for tests: `flow()`, `node()`, `event()`.

A module of its own (not `conftest`): several conftest.py files share that module name, so
`from conftest import ...` would find whichever was loaded last.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

START = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def flow(
    id: str = "f", nodes: list[dict[str, Any]] | None = None, edges: list[Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """A flow document; edges may be given as ("a", "b") or ("a", "port", "b") tuples."""
    made = []
    for edge in edges or []:
        if isinstance(edge, tuple):
            made.append({"from": edge[0], "to": edge[-1], **({"port": edge[1]} if len(edge) == 3 else {})})
        else:
            made.append(edge)
    return {"id": id, "nodes": nodes or [], "edges": made, **extra}


def node(id: str, type: str, **config: Any) -> dict[str, Any]:
    return {"id": id, "type": type, "config": config}


def event(id: str, type: str, at: str, member: str | None = "m-1", **fields: Any) -> dict[str, Any]:
    return {"id": id, "type": type, "at": at, **({"member": member} if member else {}), **fields}
