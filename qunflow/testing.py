"""Testing nodes and small flows: in memory, under the simulated clock, in a few lines.

    from qunflow.testing import run_node, run_flow

    result = run_node("action.add_tag", {"tags": ["vip"]}, member={"id": "m-1", "tags": ["new"]})
    assert result.outcome == NEXT and result.changes == {"tags": (["new"], ["new", "vip"])}

    report = run_flow(flow_document, [{"id": "e-1", "type": "member_joined", ...}], until="P7D")
    assert report.sent(node="coupon", member="m-1")

`run_node` runs the real engine on a throwaway in-memory store: the event (default: one made up for
the member) first updates the member, as every event does (DESIGN §5 "Order"), then reaches the
node, whose step is called once. What the step returned, what it changed on the member and the
deliveries it recorded come back. `run_flow` is `simulate` (DESIGN §7) with plain dicts in and a
report with a few helpers out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from qunflow.engine.clock import SimClock, to_us
from qunflow.engine.config import Config
from qunflow.engine.context import Context
from qunflow.engine.engine import Engine
from qunflow.engine.errors import UserError
from qunflow.engine.event import Event, convert_events
from qunflow.engine.member import GroupRecord, Member, MemberRecord
from qunflow.engine.registry import NodeType, Registry, default_registry, trigger
from qunflow.engine.simulate import simulate
from qunflow.engine.store import Store

# A Monday, 09:00 in Shanghai: inside no quiet hours, the start of a working week.
START = datetime(2026, 1, 5, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
NODE_ID = "node"
_STARTER = "testing.start"


@dataclasses.dataclass
class NodeResult:
    """What one step did."""

    # What the step returned: an outcome (`NEXT`, `WaitUntil(...)`, ...) or, for a trigger, whether
    # the event starts a run.
    outcome: Any
    # The member as the step left it (None for a run without one), and each field the step changed,
    # as (before, after).
    member: Member | None
    changes: dict[str, tuple[Any, Any]]
    # The deliveries the step recorded, as {"kind", "payload", "member"}.
    deliveries: list[dict[str, Any]]
    # The run's variables after the step (`ctx.set_var`).
    vars: dict[str, Any]


@dataclasses.dataclass
class FlowReport:
    """`simulate`'s report (DESIGN §7), with helpers."""

    report: dict[str, Any]

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        return self.report["deliveries"]

    @property
    def members(self) -> dict[str, dict[str, Any]]:
        return self.report["members"]

    @property
    def runs(self) -> dict[str, dict[str, int]]:
        return self.report["runs"]

    @property
    def nodes(self) -> dict[str, dict[str, int]]:
        return self.report["nodes"]

    def sent(
        self, node: str | None = None, member: str | None = None, kind: str | None = None
    ) -> list[dict[str, Any]]:
        """The deliveries, optionally of one node, member and/or kind."""
        return [
            d
            for d in self.deliveries
            if (node is None or d["node"] == node)
            and (member is None or d["member"] == member)
            and (kind is None or d["kind"] == kind)
        ]


def run_node(
    node: NodeType | Callable[..., Any] | str,
    config: Mapping[str, Any] | msgspec.Struct | None = None,
    *,
    member: str | Mapping[str, Any] | MemberRecord | None = "m-1",
    event: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    timezone: str = "Asia/Shanghai",
    settings: Mapping[str, Any] | None = None,
    groups: Sequence[Mapping[str, Any]] = (),
    others: Sequence[Mapping[str, Any] | MemberRecord] = (),
    registry: Registry | None = None,
) -> NodeResult:
    """Step one node once and report what it did.

    `node`: a declared step function, its `NodeType`, or a type id of the registry (default: the
    built-ins and installed packages). `config`: its settings as in a flow document (a dict) or as
    its config struct. `member`: an id, a member record as `qunflow import` takes it (a dict or a
    `MemberRecord`), or None for a run without a member. `event`: the event that reaches
    the node (a dict as `POST /api/events` takes it; `id`, `type`, `member` and `at` are filled in
    when missing); for a trigger, the event it is asked about. `now`: the simulated time (default:
    the event's time, else Monday 2026-01-05 09:00 in Shanghai). `settings`: the flow's settings
    (`quiet_hours`, `frequency_cap`). `groups` and `others` (other members) are stored first.
    An exception the step raises is raised here (the engine would fail the run with it)."""
    base = registry or default_registry()
    node_type = _node_type(node, base)
    if node_type.kind == "trigger" and not node_type.events_for(_config(node_type, config)):
        raise UserError(f"{node_type.type}: a scheduled trigger has no event to test; use run_flow")
    seen: list[Any] = []
    probe = dataclasses.replace(node_type, step=_recording(node_type.step, seen))
    types = [t for t in base if t.type not in (node_type.type, _STARTER)]
    types += [probe, _start.node_type]  # type: ignore[attr-defined]
    raw_config = _config_dict(node_type, config)

    record = _member_record(member)
    member_id = record.id if record is not None else None
    raw_event = dict(event or {})
    if node_type.kind == "trigger":
        raw_event.setdefault("type", node_type.events_for(_config(node_type, config))[0])
    else:
        raw_event.setdefault("type", "testing")
    moment = now or (msgspec.convert(raw_event["at"], datetime) if "at" in raw_event else START)
    raw_event.setdefault("at", moment.isoformat())
    raw_event.setdefault("id", "testing-1")
    if member_id is not None:
        raw_event.setdefault("member", member_id)
    (incoming,) = convert_events([raw_event])

    nodes: list[dict[str, Any]] = [{"id": NODE_ID, "type": node_type.type, "config": raw_config}]
    edges: list[dict[str, Any]] = []
    if node_type.kind != "trigger":
        nodes.insert(0, {"id": "start", "type": _STARTER, "config": {"event": incoming.type}})
        edges.append({"from": "start", "to": NODE_ID})
    document = {
        "id": "testing",
        "nodes": nodes,
        "edges": edges,
        "timezone": timezone,
        "settings": {"reentry": "always", **(settings or {})},
    }
    clock = SimClock(moment)
    store = Store.open("sqlite://")
    try:
        _put(store, [record, *others] if record is not None else others, groups, to_us(moment))
        engine = Engine(store, Registry(types), clock)
        engine.deploy(document)
        engine.ingest([incoming])
        if not seen:
            raise UserError(f"{node_type.type}: the step was never called (does the event reach it?)")
        if isinstance(seen[0], Exception):
            raise seen[0]
        outcome, before, after, variables = seen[0]
        deliveries = [
            {"kind": d["kind"], "payload": d["payload"], "member": d["member"]}
            for d in store.deliveries(node=NODE_ID)
        ]
        found = store.all_members().get(member_id) if member_id is not None else None
    finally:
        store.close()
    changes = {k: (before[k], after[k]) for k in after if before.get(k) != after[k]}
    return NodeResult(outcome, found, changes, deliveries, variables)


def run_flow(
    flows: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any] | Event],
    until: str | datetime = "P30D",
    *,
    members: Sequence[Mapping[str, Any] | MemberRecord] = (),
    groups: Sequence[Mapping[str, Any] | GroupRecord] = (),
    nodes: Iterable[NodeType | Callable[..., Any]] = (),
    start: datetime | None = None,
    registry: Registry | None = None,
) -> FlowReport:
    """Simulate flows (documents as dicts) on events (dicts as in the JSON Lines files) until a
    moment or for a duration after the start (`P7D`). `nodes`: custom nodes to add to the registry."""
    documents = [dict(flows)] if isinstance(flows, Mapping) else [dict(f) for f in flows]
    chosen = registry or default_registry()
    extra = list(nodes)
    if extra:
        chosen = chosen.copy()
        for item in extra:
            chosen.add(item)
    decoded = [e if isinstance(e, Event) else None for e in events]
    loose = [dict(e) for e in events if not isinstance(e, Event)]
    converted = iter(convert_events(loose)) if loose else iter(())
    return FlowReport(
        simulate(
            documents,
            [e if e is not None else next(converted) for e in decoded],
            until,
            members=[m if isinstance(m, MemberRecord) else msgspec.convert(m, MemberRecord) for m in members],
            groups=[g if isinstance(g, GroupRecord) else msgspec.convert(g, GroupRecord) for g in groups],
            registry=chosen,
            start=start,
        )
    )


# -- the pieces -------------------------------------------------------------------------------------


class _Start(Config):
    event: str


@trigger(_STARTER, title={"zh": "测试起点", "en": "Test start"}, on=lambda config: (config.event,))
def _start(ctx: Context, config: _Start) -> bool:
    """Starts a run on the test's event, whatever its type."""
    return True


def _node_type(node: NodeType | Callable[..., Any] | str, registry: Registry) -> NodeType:
    if isinstance(node, NodeType):
        return node
    if isinstance(node, str):
        found = registry.get(node)
        if found is None:
            raise UserError(f"no node type `{node}` in the registry")
        return found
    declared = getattr(node, "node_type", None)
    if not isinstance(declared, NodeType):
        raise UserError(f"{node!r} is not a declared node (use @action, @condition, @wait or @trigger)")
    return declared


def _config(node_type: NodeType, config: Mapping[str, Any] | msgspec.Struct | None) -> Any:
    if isinstance(config, msgspec.Struct):
        return config
    return msgspec.convert(dict(config or {}), node_type.config)


def _config_dict(node_type: NodeType, config: Mapping[str, Any] | msgspec.Struct | None) -> dict[str, Any]:
    if isinstance(config, msgspec.Struct):
        return msgspec.to_builtins(config)
    return dict(config or {})


def _member_record(member: str | Mapping[str, Any] | MemberRecord | None) -> MemberRecord | None:
    if member is None or isinstance(member, MemberRecord):
        return member
    if isinstance(member, str):
        return MemberRecord(id=member)
    return msgspec.convert(dict(member), MemberRecord)


def _put(
    store: Store,
    members: Sequence[Mapping[str, Any] | MemberRecord],
    groups: Sequence[Mapping[str, Any]],
    first_seen: int,
) -> None:
    records = [_member_record(m) for m in members]
    store.put_members([r.to_member(first_seen) for r in records if r is not None])
    if groups:
        with store.transaction() as conn:
            store.upsert_groups(conn, [msgspec.to_builtins(msgspec.convert(g, GroupRecord)) for g in groups])


def _recording(step: Callable[..., Any], seen: list[Any]) -> Callable[..., Any]:
    def recorded(ctx: Context, config: Any) -> Any:
        before = _snapshot(ctx.member)
        try:
            outcome = step(ctx, config)
        except Exception as error:  # the engine would fail the run; a test wants the traceback
            seen.append(error)
            raise
        if not seen:
            run_vars = dict(ctx.run.vars or {}) if ctx.run is not None else {}
            seen.append((outcome, before, _snapshot(ctx.member), run_vars))
        return outcome

    return recorded


def _snapshot(member: Member | None) -> dict[str, Any]:
    if member is None:
        return {}
    fields = [f for f in MemberRecord.__struct_fields__ if f != "id"]
    return {f: msgspec.json.decode(msgspec.json.encode(getattr(member, f))) for f in fields}


__all__ = ["START", "FlowReport", "NodeResult", "run_flow", "run_node"]
