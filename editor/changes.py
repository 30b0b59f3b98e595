"""What changed between two versions of a flow, as the version history page lists it."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

What = Literal[
    "node_added", "node_removed", "node_config", "node_label", "node_type",
    "edge_added", "edge_removed", "settings", "name", "timezone",
]  # fmt: skip


class Change(msgspec.Struct, frozen=True):
    what: What
    subject: str  # a node id, an edge "from.port → to", or a settings key
    before: str = ""
    after: str = ""


def _nodes(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in document.get("nodes") or [] if isinstance(n, dict) and "id" in n}


def _edges(document: dict[str, Any]) -> list[str]:
    return sorted(
        f"{e.get('from')}.{e.get('port') or 'next'} → {e.get('to')}"
        for e in document.get("edges") or []
        if isinstance(e, dict)
    )


def _show(value: Any) -> str:
    return msgspec.json.encode(value, order="sorted").decode() if value is not None else ""


def flow_changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[Change]:
    """The differences from `before` (None for the first version) to `after`; positions are ignored."""
    before = before or {}
    changes: list[Change] = []
    for key in ("name", "timezone"):
        if before and before.get(key) != after.get(key):
            changes.append(Change(key, key, str(before.get(key) or ""), str(after.get(key) or "")))
    old_settings, new_settings = before.get("settings") or {}, after.get("settings") or {}
    for key in sorted(set(old_settings) | set(new_settings)):
        if before and old_settings.get(key) != new_settings.get(key):
            changes.append(
                Change("settings", key, _show(old_settings.get(key)), _show(new_settings.get(key)))
            )

    old_nodes, new_nodes = _nodes(before), _nodes(after)
    for node_id, node in new_nodes.items():
        old = old_nodes.get(node_id)
        if old is None:
            changes.append(Change("node_added", node_id, after=str(node.get("type", ""))))
            continue
        if old.get("type") != node.get("type"):
            changes.append(Change("node_type", node_id, str(old.get("type")), str(node.get("type"))))
        if (old.get("config") or {}) != (node.get("config") or {}):
            changes.append(
                Change("node_config", node_id, _show(old.get("config")), _show(node.get("config")))
            )
        if (old.get("label") or "") != (node.get("label") or ""):
            changes.append(Change("node_label", node_id, old.get("label") or "", node.get("label") or ""))
    for node_id, node in old_nodes.items():
        if node_id not in new_nodes:
            changes.append(Change("node_removed", node_id, before=str(node.get("type", ""))))

    old_edges, new_edges = _edges(before), _edges(after)
    changes += [Change("edge_added", edge) for edge in new_edges if edge not in old_edges]
    changes += [Change("edge_removed", edge) for edge in old_edges if edge not in new_edges]
    return changes
