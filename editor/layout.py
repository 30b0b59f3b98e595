"""Layered auto-layout for flows whose nodes have no positions (imported or written by hand).

Nodes go into columns by their longest distance from a trigger (left to right, like the canvas reads),
and each column is ordered by the mean row of its predecessors so edges cross as little as a cheap
heuristic allows. Nodes that already have a position keep it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx

COLUMN_WIDTH = 260
ROW_HEIGHT = 140
ORIGIN = (60.0, 60.0)


def layered_positions(node_ids: list[str], edges: list[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """A position for every node: columns by longest path from a source, rows by predecessor barycentre.

    A graph with a cycle (an invalid flow being edited) still gets a layout: the cycle's back edges
    are ignored, found by a depth-first search in node order so the result is stable.
    """
    graph = nx.DiGraph()
    graph.add_nodes_from(node_ids)
    graph.add_edges_from((a, b) for a, b in edges if a in graph and b in graph and a != b)
    graph = _acyclic(graph, node_ids)

    column: dict[str, int] = {}
    for node in nx.topological_sort(graph):
        column[node] = max((column[p] + 1 for p in graph.predecessors(node)), default=0)

    columns: dict[int, list[str]] = {}
    for node in node_ids:  # node order keeps ties stable
        columns.setdefault(column[node], []).append(node)

    row: dict[str, float] = {}
    for index in sorted(columns):
        members = columns[index]
        if index:
            members.sort(key=lambda n: _barycentre(graph, n, row))
        for position, node in enumerate(members):
            row[node] = float(position)
        columns[index] = members

    tallest = max((len(m) for m in columns.values()), default=1)
    positions = {}
    for index, members in columns.items():
        offset = (tallest - len(members)) / 2  # centre short columns against the tallest one
        for position, node in enumerate(members):
            positions[node] = (ORIGIN[0] + index * COLUMN_WIDTH, ORIGIN[1] + (position + offset) * ROW_HEIGHT)
    return positions


def _acyclic(graph: nx.DiGraph, order: list[str]) -> nx.DiGraph:
    result = nx.DiGraph()
    result.add_nodes_from(order)
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    for root in order:
        if root in state:
            continue
        stack = [(root, iter(sorted(graph.successors(root), key=order.index)))]
        state[root] = 1
        while stack:
            node, successors = stack[-1]
            for successor in successors:
                if state.get(successor) == 1:
                    continue  # a back edge: skip it
                result.add_edge(node, successor)
                if successor not in state:
                    state[successor] = 1
                    stack.append((successor, iter(sorted(graph.successors(successor), key=order.index))))
                    break
            else:
                state[node] = 2
                stack.pop()
    return result


def _barycentre(graph: nx.DiGraph, node: str, row: Mapping[str, float]) -> float:
    rows = [row[p] for p in graph.predecessors(node) if p in row]
    return sum(rows) / len(rows) if rows else float("inf")


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
