"""Validation and compilation: a flow document in, every problem or an immutable plan out.

networkx checks the graph here and only here; the plan the engine walks is plain dicts and tuples.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import msgspec.inspect as mi
import networkx as nx

from .content import content_problems
from .errors import FlowInvalid, Problem, validation_message
from .fields import path_problem, template_problems
from .flow import Flow, Goal, decode_flow, reentry_interval
from .registry import NodeType, Registry

# A node counter's key: (flow, node, counter, version). The counter is `entered`, `port:<name>`, or
# one a goal adds (engine.goal); the version is the flow version the counted runs are on.
CounterKey = tuple[str, str, str, int]


@dataclass(frozen=True, slots=True)
class PlanNode:
    id: str
    kind: str
    node_type: NodeType
    config: Any
    step: Callable[..., Any]
    # Successor node ids by output port.
    next: dict[str, tuple[str, ...]]
    # Built once so the hot path makes no keys: this node's `entered` counter key, and per port
    # the port's counter key and the successors (ids, and the first one's `entered` key).
    entered: CounterKey
    exits: dict[str, PortExit]

    def exit(self, port: str) -> PortExit:
        """Where a port leads (a port no edge leaves ends the run there)."""
        found = self.exits.get(port)
        if found is not None:
            return found
        flow_id, _, _, version = self.entered
        return PortExit((flow_id, self.id, "port:" + port, version), (), None)


class PortExit(NamedTuple):
    counter: CounterKey
    successors: tuple[str, ...]
    # The `entered` counter key of the first successor (None when there is none).
    entered: CounterKey | None


@dataclass(frozen=True, slots=True)
class Plan:
    """A compiled, immutable flow version, shared by every run on it."""

    flow: Flow
    version: int
    tz: ZoneInfo
    nodes: dict[str, PlanNode]
    # Trigger nodes by the event type that may fire them.
    triggers: dict[str, tuple[PlanNode, ...]]
    reentry: timedelta | None
    # Whether any port leads to several nodes (runs fork into parallel branches).
    forks: bool
    # Trigger nodes that fire on a cron schedule rather than on events.
    schedules: tuple[PlanNode, ...] = ()
    # The flow's goal (DESIGN §16), and the share of entering members held out, as a fraction.
    goal: Goal | None = None
    holdout: float = 0.0

    @property
    def id(self) -> str:
        return self.flow.id

    def entry(self) -> PlanNode:
        """Where a run started from another flow (`action.start_flow`) begins: the first trigger."""
        return next(n for n in self.nodes.values() if n.kind == "trigger")


MAX_DURATION = timedelta(days=3653)
_INDEX = re.compile(r"^nodes\[(\d+)\](?:\.(.*))?$")


def _structure_problem(raw: Any, error: msgspec.ValidationError) -> Problem:
    path, message = validation_message(error)
    match = _INDEX.match(path)
    if match and isinstance(raw, dict) and isinstance(raw.get("nodes"), list):
        index = int(match.group(1))
        item = raw["nodes"][index] if index < len(raw["nodes"]) else None
        node_id = item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), str) else None
        return Problem(node_id or f"nodes[{index}]", match.group(2) or "", message)
    return Problem(None, path, message)


def _format_problems(
    value: Any, info: Any, path: str, flows: Collection[str] | None, content: Mapping[str, Any] | None = None
) -> list[str]:
    """Check values whose JSON Schema format is `template`, `field-path`, `flow-id` (when `flows`
    are known) or `content-id` (when the `content` library is known), wherever they sit, and that
    no duration is beyond what a calendar can hold (ten years)."""
    if value is None:
        return []
    if isinstance(value, timedelta):
        return [f"{path}: a duration longer than ten years"] if abs(value) > MAX_DURATION else []
    if isinstance(info, mi.Metadata):
        fmt = (info.extra_json_schema or {}).get("format")
        if fmt == "template" and isinstance(value, str):
            return [f"{path}: {p}" for p in template_problems(value)]
        if fmt == "field-path" and isinstance(value, str):
            problem = path_problem(value)
            return [f"{path}: {problem}"] if problem else []
        if fmt == "flow-id" and flows is not None and value not in flows:
            return [f"{path}: there is no flow `{value}`"]
        if fmt == "content-id" and content is not None and isinstance(value, str):
            return [f"{path}: {p}" for p in content_problems(content.get(value), value)]
        return _format_problems(value, info.type, path, flows, content)
    if isinstance(info, mi.UnionType):
        return [
            p for t in info.types for p in _format_problems(value, t, path, flows, content) if _fits(value, t)
        ]
    if isinstance(info, mi.StructType) and isinstance(value, msgspec.Struct):
        return [
            p
            for f in info.fields
            for p in _format_problems(
                getattr(value, f.name), f.type, f"{path}.{f.encode_name}".lstrip("."), flows, content
            )
        ]
    if isinstance(info, mi.ListType | mi.TupleType | mi.VarTupleType) and isinstance(value, list | tuple):
        item = getattr(info, "item_type", None)
        return [
            p for i, v in enumerate(value) for p in _format_problems(v, item, f"{path}[{i}]", flows, content)
        ]
    return []


def _fits(value: Any, info: Any) -> bool:
    if isinstance(info, mi.Metadata):
        info = info.type
    if isinstance(info, mi.StructType):
        return isinstance(value, info.cls)
    if isinstance(info, mi.StrType):
        return isinstance(value, str)
    if isinstance(info, mi.ListType):
        return isinstance(value, list)
    return not isinstance(info, mi.NoneType)


def _decode_config(node_type: NodeType, raw: dict[str, Any]) -> tuple[Any, Problem | None]:
    try:
        return msgspec.convert(raw, node_type.config), None
    except msgspec.ValidationError as error:
        path, message = validation_message(error)
        return None, Problem(None, f"config.{path}" if path else "config", message)


def check(
    document: Any,
    registry: Registry,
    flows: Collection[str] | None = None,
    content: Mapping[str, Any] | None = None,
) -> tuple[Flow | None, dict[str, Any], list[Problem]]:
    """Every problem of a flow at once; with the decoded flow and node configs when it decoded.

    `flows`: the ids of the flows there are, against which node settings that name a flow
    (`format: flow-id`, as `action.start_flow`'s) are checked; None leaves them unchecked. A flow may
    always name itself. `content`: the content library by id, against which settings that name an
    item (`format: content-id`) are checked; None leaves them unchecked."""
    try:
        flow = decode_flow(document)
    except msgspec.ValidationError as error:  # a subclass of DecodeError: catch it first
        raw = document if isinstance(document, dict) else _loose(document)
        return None, {}, [_structure_problem(raw, error)]
    except msgspec.DecodeError as error:
        return None, {}, [Problem(None, "", f"not valid JSON: {error}")]

    problems: list[Problem] = []
    try:
        ZoneInfo(flow.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(Problem(None, "timezone", f"unknown timezone `{flow.timezone}`"))
    try:
        reentry_interval(flow.settings.reentry)
    except msgspec.ValidationError:
        problems.append(
            Problem(None, "settings.reentry", "must be `once`, `always` or an ISO 8601 duration like `P30D`")
        )

    problems += goal_problems(flow)

    configs: dict[str, Any] = {}
    types: dict[str, NodeType] = {}
    known = None if flows is None else {*flows, flow.id}
    for node in flow.nodes:
        if node.id in types or node.id in configs:
            problems.append(Problem(node.id, "id", f"duplicate node id `{node.id}`"))
            continue
        node_type = registry.get(node.type)
        if node_type is None:
            problems.append(Problem(node.id, "type", f"unknown node type `{node.type}`"))
            continue
        types[node.id] = node_type
        config, problem = _decode_config(node_type, node.config)
        if problem:
            problems.append(Problem(node.id, problem.path, problem.message))
            continue
        configs[node.id] = config
        for text in _format_problems(config, mi.type_info(node_type.config), "", known, content):
            path, _, message = text.partition(": ")
            problems.append(Problem(node.id, f"config.{path}", message))
        listens = node_type.events_for(config) or node_type.cron_for(config)
        if node_type.kind == "trigger" and not listens:
            problems.append(Problem(node.id, "config", "this trigger listens to no event"))

    graph = nx.DiGraph()
    graph.add_nodes_from(n.id for n in flow.nodes)
    for index, edge in enumerate(flow.edges):
        where = f"edges[{index}]"
        if edge.source not in graph:
            problems.append(Problem(edge.source, f"{where}.from", f"edge from missing node `{edge.source}`"))
            continue
        if edge.to not in graph:
            problems.append(Problem(edge.source, f"{where}.to", f"edge to missing node `{edge.to}`"))
            continue
        source_type, target_type = types.get(edge.source), types.get(edge.to)
        if source_type and edge.source in configs:
            ports = source_type.ports_for(configs[edge.source])
            if edge.port not in ports:
                problems.append(
                    Problem(
                        edge.source,
                        f"{where}.port",
                        f"`{edge.source}` has no port `{edge.port}` (ports: {', '.join(ports)})",
                    )
                )
        if target_type and target_type.kind == "trigger":
            problems.append(Problem(edge.to, f"{where}.to", "a trigger cannot have incoming edges"))
        if source_type and target_type and target_type.after and source_type.type not in target_type.after:
            problems.append(Problem(edge.to, f"{where}.from", _only_after(target_type.after)))
        graph.add_edge(edge.source, edge.to)

    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        cycle = []
    if cycle:
        loop = " → ".join([u for u, _ in cycle] + [cycle[0][0]])
        problems.append(Problem(cycle[0][0], "edges", f"the flow loops back on itself: {loop}"))

    triggers = [nid for nid, t in types.items() if t.kind == "trigger"]
    if not triggers:
        problems.append(Problem(None, "nodes", "a flow needs at least one trigger"))
    else:
        reachable = set(triggers)
        for start in triggers:
            reachable |= nx.descendants(graph, start)
        for node in flow.nodes:
            if node.id not in reachable:
                problems.append(Problem(node.id, "", "no trigger leads to this node"))
    return flow, configs, problems


def _only_after(types: Sequence[str]) -> str:
    return "this node can only come directly after " + " or ".join(types)


def goal_problems(flow: Flow) -> list[Problem]:
    """What is wrong with a flow's goal (its window and the field paths of its `where`)."""
    goal = flow.settings.goal
    if goal is None:
        return []
    problems: list[Problem] = []
    if goal.within <= timedelta(0):
        problems.append(Problem(None, "settings.goal.within", "must be a duration longer than zero"))
    elif goal.within > MAX_DURATION:
        problems.append(Problem(None, "settings.goal.within", "a duration longer than ten years"))
    where = goal.where if isinstance(goal.where, list) else [goal.where] if goal.where else []
    for index, comparison in enumerate(where):
        problem = path_problem(comparison.field)
        if problem:
            at = f"[{index}]" if isinstance(goal.where, list) else ""
            problems.append(Problem(None, f"settings.goal.where{at}.field", problem))
    return problems


def _loose(document: Any) -> Any:
    try:
        return msgspec.json.decode(document) if isinstance(document, bytes | str) else document
    except msgspec.DecodeError:
        return None


def compile_flow(
    document: Any,
    registry: Registry,
    version: int = 0,
    flows: Collection[str] | None = None,
    content: Mapping[str, Any] | None = None,
) -> Plan:
    """Compile a valid flow into a plan; raise :class:`FlowInvalid` with every problem otherwise
    (`flows`, `content`: see :func:`check`)."""
    flow, configs, problems = check(document, registry, flows, content)
    if problems or flow is None:
        raise FlowInvalid(problems)
    successors: dict[str, dict[str, list[str]]] = {n.id: {} for n in flow.nodes}
    for edge in flow.edges:
        successors[edge.source].setdefault(edge.port, []).append(edge.to)
    nodes: dict[str, PlanNode] = {}
    triggers: dict[str, list[PlanNode]] = {}
    for node in flow.nodes:
        node_type = registry.get(node.type)
        assert node_type is not None
        config = configs[node.id]
        following = {port: tuple(ids) for port, ids in successors[node.id].items()}
        exits = {
            port: PortExit(
                (flow.id, node.id, "port:" + port, version),
                ids,
                (flow.id, ids[0], "entered", version) if ids else None,
            )
            for port, ids in {**dict.fromkeys(node_type.ports_for(config), ()), **following}.items()
        }
        plan_node = PlanNode(
            id=node.id,
            kind=node_type.kind,
            node_type=node_type,
            config=config,
            step=node_type.step,
            next=following,
            entered=(flow.id, node.id, "entered", version),
            exits=exits,
        )
        nodes[node.id] = plan_node
        if node_type.kind == "trigger":
            for event_type in node_type.events_for(plan_node.config):
                triggers.setdefault(event_type, []).append(plan_node)
    return Plan(
        flow=flow,
        version=version,
        tz=ZoneInfo(flow.timezone),
        nodes=nodes,
        triggers={k: tuple(v) for k, v in triggers.items()},
        reentry=reentry_interval(flow.settings.reentry),
        forks=any(len(ids) > 1 for node in nodes.values() for ids in node.next.values()),
        schedules=tuple(n for n in nodes.values() if n.kind == "trigger" and n.node_type.cron_for(n.config)),
        goal=flow.settings.goal,
        holdout=flow.settings.holdout / 100,
    )
