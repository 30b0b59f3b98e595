"""Layered auto-layout of a flow: for flows whose nodes have no positions (imported or written by
hand), and for the canvas's auto-layout button (`POST /api/flows/{id}/layout`).

Nodes go into columns by networkx's topological generations (left to right, like the canvas reads: a
node stands one column right of its furthest predecessor), and each column is ordered by the mean row
of its predecessors so edges cross as little as a cheap heuristic allows; branches of one node keep
the order of their edges (a condition's `true` above its `false`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx

# A node is 190 px wide on the canvas: the rest of a column is room for an edge and its label
# ("是 1,204 · 转化 12.3%").
COLUMN_WIDTH = 340
ROW_HEIGHT = 140
ORIGIN = (60.0, 60.0)


@dataclass(frozen=True, slots=True)
class Layout:
    """Node ids by column, each top to bottom, and each node's top-left corner on the canvas."""

    columns: list[list[str]]
    positions: dict[str, tuple[float, float]]


def layered_layout(node_ids: list[str], edges: list[tuple[str, str]]) -> Layout:
    """Columns by topological generation, rows by predecessor barycentre, for every node of
    `node_ids`. Edges to or from a node not listed, and loops, are left out.

    A graph with a cycle (an invalid flow being edited) still gets a layout: the cycle's back edges
    are ignored, found by a depth-first search in node order so the result is stable.
    """
    graph = nx.DiGraph()
    graph.add_nodes_from(node_ids)
    edge_order: dict[tuple[str, str], int] = {}
    for index, (a, b) in enumerate(edges):
        if a in graph and b in graph and a != b:
            graph.add_edge(a, b)
            edge_order.setdefault((a, b), index)
    graph = _acyclic(graph, node_ids)
    order = {node: index for index, node in enumerate(node_ids)}

    columns: list[list[str]] = []
    row: dict[str, float] = {}
    for generation in nx.topological_generations(graph):
        members = sorted(generation, key=order.__getitem__)  # node order keeps ties stable
        if columns:
            members.sort(key=lambda n: _barycentre(graph, n, row, edge_order))
        for position, node in enumerate(members):
            row[node] = float(position)
        columns.append(members)

    tallest = max((len(m) for m in columns), default=1)
    positions = {}
    for index, members in enumerate(columns):
        offset = (tallest - len(members)) / 2  # centre short columns against the tallest one
        for position, node in enumerate(members):
            positions[node] = (ORIGIN[0] + index * COLUMN_WIDTH, ORIGIN[1] + (position + offset) * ROW_HEIGHT)
    return Layout(columns, positions)


def layered_positions(node_ids: list[str], edges: list[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """A position for every node (see :func:`layered_layout`)."""
    return layered_layout(node_ids, edges).positions


def _acyclic(graph: nx.DiGraph, order: list[str]) -> nx.DiGraph:
    result = nx.DiGraph()
    result.add_nodes_from(order)
    rank = {node: index for index, node in enumerate(order)}
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    for root in order:
        if root in state:
            continue
        stack = [(root, iter(sorted(graph.successors(root), key=rank.__getitem__)))]
        state[root] = 1
        while stack:
            node, successors = stack[-1]
            for successor in successors:
                if state.get(successor) == 1:
                    continue  # a back edge: skip it
                result.add_edge(node, successor)
                if successor not in state:
                    state[successor] = 1
                    stack.append((successor, iter(sorted(graph.successors(successor), key=rank.__getitem__))))
                    break
            else:
                state[node] = 2
                stack.pop()
    return result


def _barycentre(
    graph: nx.DiGraph, node: str, row: Mapping[str, float], edge_order: Mapping[tuple[str, str], int]
) -> tuple[float, int]:
    """The mean row of the node's predecessors; between siblings, the order of the edges to them."""
    rows = [row[p] for p in graph.predecessors(node) if p in row]
    first_edge = min((edge_order.get((p, node), 0) for p in graph.predecessors(node)), default=0)
    return (sum(rows) / len(rows) if rows else float("inf"), first_edge)


def with_layout(document: dict[str, Any]) -> dict[str, Any]:
    """The flow document with a position for each node that has none; positioned nodes are untouched."""
    nodes = [n for n in document.get("nodes") or [] if isinstance(n, dict) and isinstance(n.get("id"), str)]
    if all(isinstance(n.get("position"), dict) for n in nodes):
        return document
    ids = [n["id"] for n in nodes]
    edges = [
        (e.get("from"), e.get("to"))
        for e in document.get("edges") or []
        if isinstance(e, dict) and isinstance(e.get("from"), str) and isinstance(e.get("to"), str)
    ]
    positions = layered_positions(ids, edges)
    placed = []
    for node in document.get("nodes") or []:
        if (
            isinstance(node, dict)
            and node.get("id") in positions
            and not isinstance(node.get("position"), dict)
        ):
            x, y = positions[node["id"]]
            node = {**node, "position": {"x": x, "y": y}}
        placed.append(node)
    return {**document, "nodes": placed}
