"""`/api/flows`: drafts, validation, publishing, pause and resume, preview, per-node statistics."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.exceptions import PermissionDeniedException, ValidationException
from litestar.params import Body, JSONBody, Parameter
from msgspec import Meta

from qunflow.engine import check, compile_flow
from qunflow.engine.abtest import split_results
from qunflow.engine.approval import SameRequester, decide
from qunflow.engine.approval import publish as publish_flow
from qunflow.engine.backtest import MAX_DAYS, MIN_DAYS, BacktestResult, MassSendLimit, TouchBudget, backtest
from qunflow.engine.community_settings import stored_settings
from qunflow.engine.compiler import Plan
from qunflow.engine.errors import EventInvalid, UserError, join_path, validation_message
from qunflow.engine.event import convert_events
from qunflow.engine.goal import converted_counter
from qunflow.engine.member import GroupRecord, MemberRecord
from qunflow.engine.results import goal_figures, lift, rate
from qunflow.engine.run import STATUSES
from qunflow.engine.simulate import WorkLimit, checked_moment, parse_until, simulate

from ..auth import ADMIN, READ, WRITE, allow
from ..layout import layered_layout
from ..problem_words import problem_words
from ..services import Services, ServicesDep
from .errors import refuse_nul
from .members import changed_by
from .params import FlowId
from .views import (
    BranchResult,
    Decision,
    FlowDetail,
    FlowStats,
    FlowSummary,
    GoalStats,
    GroupFigures,
    NodeStats,
    PauseState,
    ProblemView,
    Published,
    Rollback,
    Validation,
    VersionFigures,
    VersionView,
    iso,
)

# A preview runs in the request: keep its simulated span, its size and its work bounded (an
# every-minute cron over a year would be half a million fires). Past the work limit the preview
# stops early and says where, under `truncated`.
PREVIEW_MAX_SPAN = timedelta(days=366)
PREVIEW_MAX_EVENTS = 20_000
PREVIEW_LIMIT = WorkLimit(moments=1_000, steps=100_000)

# Auto-layout answers in the request: keep the graph it lays out bounded.
LAYOUT_MAX_NODES = 2_000

FlowBody = Annotated[dict[str, Any], Body(title="flow", description="a flow document (DESIGN §4)")]
OptionalFlowBody = Annotated[
    dict[str, Any] | None, Body(title="flow", description="a flow document; the stored draft when absent")
]


class PreviewRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Events (and optional members and groups) to run the flow's draft on, under a simulated clock."""

    events: list[dict[str, Any]] = []
    members: list[MemberRecord] = []
    groups: list[GroupRecord] = []
    # An ISO 8601 timestamp with offset, or a duration after the start.
    until: str = "P7D"
    # When the simulated clock starts (default: the first event); a cron-only flow needs it.
    start: Annotated[datetime, Meta(tz=True)] | None = None
    # The flow to preview instead of the stored draft (the canvas as it is now).
    flow: dict[str, Any] | None = None


class LayoutNode(msgspec.Struct):
    """A node to place: its id (the rest of a flow node may come along; it is ignored)."""

    id: Annotated[str, Meta(min_length=1, max_length=100)]


class LayoutEdge(msgspec.Struct, rename={"source": "from"}):
    """An edge between two nodes (its port and anything else may come along; they are ignored)."""

    source: Annotated[str, Meta(max_length=100)]
    to: Annotated[str, Meta(max_length=100)]


class LayoutRequest(msgspec.Struct):
    """The nodes and edges to lay out, as the canvas has them."""

    nodes: Annotated[list[LayoutNode], Meta(max_length=LAYOUT_MAX_NODES)]
    edges: Annotated[list[LayoutEdge], Meta(max_length=LAYOUT_MAX_NODES * 10)] = []


class NodePosition(msgspec.Struct):
    x: float
    y: float


class LayoutView(msgspec.Struct):
    """Node ids by column (left to right), each top to bottom; each node's top-left corner."""

    columns: list[list[str]]
    positions: dict[str, NodePosition]


LayoutBody = Annotated[
    Any,
    Body(title="layout", description="`{nodes: [{id}], edges: [{from, to}]}`; the stored draft when absent"),
]
_MISSING_FIELD = re.compile(r"^Object missing required field `([^`]+)`$")


def layout_request(body: Any) -> LayoutRequest:
    """The nodes and edges of a layout request; a ValidationException naming the field that is wrong
    (answered 422), a node id given twice included."""
    try:
        request = msgspec.convert(body, LayoutRequest)
    except msgspec.ValidationError as error:
        path, message = validation_message(error)
        missing = _MISSING_FIELD.match(message)
        raise _refused(join_path(path, missing.group(1)) if missing else path or "nodes", message) from None
    seen: set[str] = set()
    for index, node in enumerate(request.nodes):
        if node.id in seen:
            raise _refused(f"nodes[{index}].id", f"`{node.id}` is given twice")
        seen.add(node.id)
    return request


def _refused(field: str, message: str) -> ValidationException:
    # Answered as litestar's own refusals are: the message, then the field.
    return ValidationException(message, extra=[{"key": field, "source": "body", "message": message}])


class BacktestRequest(msgspec.Struct, forbid_unknown_fields=True):
    """How many days of stored events to run the flow's draft (or a published version) over."""

    days: Annotated[int, Meta(ge=MIN_DAYS, le=MAX_DAYS)] = 30
    # A published version to backtest instead of the draft.
    version: Annotated[int, Meta(ge=1)] | None = None
    # A touch budget to count the messages against (default: the community's, when one is set).
    budget: TouchBudget | None = None


def mass_send_limit(services: Services) -> MassSendLimit | None:
    """The WeCom connector's mass-send quota (DESIGN §20) once an admin has configured it."""
    stored = services.connectors.stored().get("wecom")
    if stored is None:
        return None
    limit = stored.get("mass_send_limit") or {}
    try:
        return msgspec.convert({"count": 1, "per": "day", **limit}, MassSendLimit)
    except msgspec.ValidationError:
        return None


def touch_budget(services: Services) -> TouchBudget | None:
    """The community's touch budget (DESIGN §18), from the community settings; a backtest request
    may give another one to try."""
    return stored_settings(services.store).touch_budget


class Rejection(msgspec.Struct, forbid_unknown_fields=True):
    """Why the waiting version is rejected (shown to the one who asked)."""

    reason: Annotated[str, Meta(min_length=1, max_length=2000)]


def flow_summaries(services: Services) -> list[FlowSummary]:
    statuses = services.store.journey_statuses()
    pending = {p["flow_id"]: p["version"] for p in services.store.pending_approvals()}
    empty = dict.fromkeys(STATUSES, 0)
    return [
        FlowSummary(
            f["id"],
            f["name"],
            f["live_version"],
            bool(f["paused"]),
            statuses.get(f["id"], empty),
            pending.get(f["id"]),
        )
        for f in services.store.list_flows()
    ]


def flow_stats(services: Services, flow_id: str, version: int | None = None) -> FlowStats:
    """Per node: runs that entered, runs waiting there now, and runs that left by each port; with a
    goal, the conversion of each node and port and the flow's goal figures (DESIGN §16). These add up
    every version's runs, or count those of one `version` only; either way each node says how many
    entered and wait on each version. `runs` counts journeys on every version."""
    record = services.store.get_flow(flow_id)
    by_version = services.store.version_node_counts(flow_id)
    waiting_by_version = services.store.waiting_by_version(flow_id)
    if version is None:
        counts = _added_up(by_version.values())
        waiting: dict[str, int] = Counter()
        for on_version in waiting_by_version.values():
            waiting.update(on_version)
        shown = record.live_version
        order = [n.get("id") for n in record.draft.get("nodes", []) if isinstance(n, dict)]
    else:
        counts = by_version.get(version, {})
        waiting = waiting_by_version.get(version, {})
        shown = version
        order = [n.get("id") for n in services.store.version_document(flow_id, version).get("nodes", [])]
    plan = services.engine.flows.plan(flow_id, shown) if shown else None
    has_goal = plan is not None and plan.goal is not None
    nodes: dict[str, NodeStats] = {}
    for node_id in [*order, *sorted(set(counts) | set(waiting))]:
        # The flow's own counters sit under the node "" (engine.goal).
        if not isinstance(node_id, str) or not node_id or node_id in nodes:
            continue
        counters = counts.get(node_id, {})
        stats = nodes[node_id] = _node_stats(counters, waiting.get(node_id, 0), has_goal)
        stats.by_version = _node_versions(node_id, by_version, waiting_by_version)
    runs = {**dict.fromkeys(STATUSES, 0), **services.store.journey_statuses(flow_id).get(flow_id, {})}
    goals = _goal_stats(plan, counts) if plan is not None and plan.goal is not None else None
    versions = sorted(set(by_version) | set(waiting_by_version), reverse=True)
    return FlowStats(flow_id, runs, nodes, goals, version, versions or None)


def _added_up(counts: Iterable[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    total: dict[str, dict[str, int]] = {}
    for on_version in counts:
        for node, counters in on_version.items():
            into = total.setdefault(node, {})
            for counter, value in counters.items():
                into[counter] = into.get(counter, 0) + value
    return total


def _node_versions(
    node_id: str, counts: dict[int, dict[str, dict[str, int]]], waiting: dict[int, dict[str, int]]
) -> dict[int, VersionFigures] | None:
    found = {}
    for version in sorted(set(counts) | set(waiting), reverse=True):
        entered = counts.get(version, {}).get(node_id, {}).get("entered", 0)
        now = waiting.get(version, {}).get(node_id, 0)
        if entered or now:
            found[version] = VersionFigures(entered, now)
    return found or None


def _node_stats(counters: dict[str, int], waiting: int, has_goal: bool) -> NodeStats:
    ports = {k.removeprefix("port:"): v for k, v in sorted(counters.items()) if k.startswith("port:")}
    stats = NodeStats(entered=counters.get("entered", 0), waiting=waiting, ports=ports)
    if has_goal:
        stats.converted = counters.get(converted_counter("entered"), 0)
        stats.conversion_rate = rate(stats.converted, stats.entered)
        stats.ports_converted = {p: counters.get(converted_counter("port:" + p), 0) for p in ports}
        stats.port_conversion_rates = {p: rate(stats.ports_converted[p], n) for p, n in ports.items()}
    return stats


def _goal_stats(plan: Plan, counts: dict[str, dict[str, int]]) -> GoalStats:
    figures = goal_figures(plan, counts)
    assert plan.goal is not None
    held = figures["holdout"]
    return GoalStats(
        goal=msgspec.to_builtins(plan.goal),
        holdout_percent=plan.flow.settings.holdout,
        entered=figures["entered"],
        converted=figures["converted"],
        conversion_rate=rate(figures["converted"], figures["entered"]),
        holdout=GroupFigures(held["entered"], held["converted"], rate(held["converted"], held["entered"])),
        lift=lift(figures),
        by_branch={
            key: GroupFigures(b["entered"], b["converted"], rate(b["converted"], b["entered"]))
            for key, b in figures["by_branch"].items()
        },
        ab=[BranchResult(**r) for r in split_results(figures["by_branch"])],
    )


class FlowController(Controller):
    path = "/api/flows"
    tags = ["flows"]

    @get("", guards=[allow(READ)], sync_to_thread=True, summary="List flows")
    def list_flows(self, services: ServicesDep) -> list[FlowSummary]:
        return flow_summaries(services)

    @post(
        "",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Create or replace a flow's draft",
        description="Body: a flow document (DESIGN §4). 422 with every problem when it is invalid; "
        "nothing is stored then.",
    )
    def save_draft(self, services: ServicesDep, data: FlowBody) -> FlowDetail:
        refuse_nul(data)
        plan = services.write(services.engine.save_draft, data)
        return _detail(services, plan.flow.id)

    @put(
        "/{flow_id:str}/draft",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Save a draft that may still have problems",
        description="Body: a flow document with this id. Unlike `POST /api/flows`, a draft with problems "
        "is stored too (work in progress) and its problems are answered; publishing refuses it until "
        "they are fixed. 4xx only when the body has no valid `id` or its `nodes`/`edges` are not lists.",
    )
    def save_unfinished(self, services: ServicesDep, flow_id: FlowId, data: FlowBody) -> Validation:
        refuse_nul(data)
        if data.get("id") != flow_id:
            raise UserError(f"id: the body's id must be `{flow_id}`, the flow being saved (流程 ID 不一致)")
        problems = services.write(services.engine.save_unfinished, data)
        return Validation(not problems, [ProblemView(**problem_words(p)) for p in problems])

    @get("/{flow_id:str}", guards=[allow(READ)], sync_to_thread=True, summary="A flow: draft and versions")
    def get_flow(self, services: ServicesDep, flow_id: FlowId) -> FlowDetail:
        return _detail(services, flow_id)

    @post(
        "/{flow_id:str}/validate",
        guards=[allow(READ)],
        sync_to_thread=True,
        status_code=200,
        summary="Validate the draft, or the flow in the body",
    )
    def validate(self, services: ServicesDep, flow_id: FlowId, data: OptionalFlowBody = None) -> Validation:
        document = data if data else services.store.get_flow(flow_id).draft
        _, _, problems = check(
            document, services.registry, services.engine.flow_ids(), services.store.content_index()
        )
        return Validation(not problems, [ProblemView(**problem_words(p)) for p in problems])

    @post(
        "/{flow_id:str}/publish",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Publish the draft as the next version; 422 if invalid",
        description="200 `{status: published}`: the version is live. With the community setting "
        "`approval.min_reach` (DESIGN §18), a flow whose estimated reach is at least that, published "
        "by anyone but an admin, is answered 202 `{status: pending_approval, reach, min_reach}`: the "
        "version waits for another admin's `/approve` and is not live.",
    )
    def publish(
        self, request: Request[Any, Any, Any], services: ServicesDep, flow_id: FlowId
    ) -> Response[Published]:
        who = request.state.get("principal")
        admin = who is not None and who.role in ADMIN
        done = services.write(publish_flow, services.engine, flow_id, changed_by(request), admin)
        answer = Published(done.flow, done.version, done.status, done.reach, done.min_reach)
        return Response(answer, status_code=202 if done.status == "pending_approval" else 200)

    @post(
        "/{flow_id:str}/approve",
        guards=[allow(ADMIN)],
        sync_to_thread=True,
        status_code=200,
        summary="Approve the version waiting for approval: it goes live (admin, not the requester)",
    )
    def approve(self, request: Request[Any, Any, Any], services: ServicesDep, flow_id: FlowId) -> Decision:
        by = changed_by(request)
        version = _decided(services, flow_id, by, True, None)
        return Decision(flow_id, version, "approved", by)

    @post(
        "/{flow_id:str}/reject",
        guards=[allow(ADMIN)],
        sync_to_thread=True,
        status_code=200,
        summary="Reject the version waiting for approval, with a reason (admin, not the requester)",
    )
    def reject(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        flow_id: FlowId,
        data: JSONBody[Rejection],
    ) -> Decision:
        refuse_nul(data.reason, "reason")
        by = changed_by(request)
        version = _decided(services, flow_id, by, False, data.reason)
        return Decision(flow_id, version, "rejected", by, data.reason)

    @post(
        "/{flow_id:str}/rollback",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Publish an earlier version again as the next version (rollback)",
    )
    def rollback(self, services: ServicesDep, flow_id: FlowId, data: JSONBody[Rollback]) -> Published:
        return Published(flow_id, services.write(services.engine.rollback, flow_id, data.version))

    @post(
        "/{flow_id:str}/pause",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Stop entering new members (waiting runs keep their place)",
    )
    def pause(self, services: ServicesDep, flow_id: FlowId) -> PauseState:
        services.write(services.engine.set_paused, flow_id, True)
        return PauseState(flow_id, True)

    @post(
        "/{flow_id:str}/resume",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Enter new members again",
    )
    def resume(self, services: ServicesDep, flow_id: FlowId) -> PauseState:
        services.write(services.engine.set_paused, flow_id, False)
        return PauseState(flow_id, False)

    @post(
        "/{flow_id:str}/preview",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Run the draft on sample events under a simulated clock",
        description="The answer is the `simulate` report (DESIGN §7). Nothing is stored. A preview "
        "that would take too much work (more than 1,000 clock stops or 100,000 steps) stops early: "
        "the report then has `truncated: {reason, limit, at}` and covers the time up to `at` only.",
    )
    def preview(
        self, services: ServicesDep, flow_id: FlowId, data: JSONBody[PreviewRequest]
    ) -> dict[str, Any]:
        refuse_nul(msgspec.to_builtins(data))
        document = data.flow if data.flow is not None else services.store.get_flow(flow_id).draft
        compile_flow(document, services.registry)
        if len(data.events) > PREVIEW_MAX_EVENTS:
            raise EventInvalid(f"events: at most {PREVIEW_MAX_EVENTS} in a preview", field="events")
        try:
            events = convert_events(data.events)
        except EventInvalid as error:
            field = f"events[{error.index}].{error.field}" if error.field else f"events[{error.index}]"
            message = str(error).removeprefix(f"event {error.index}: ")
            raise EventInvalid(message, index=error.index, field=field) from None
        if data.start is not None:
            checked_moment(data.start, "start")
        start = data.start or min((e.at for e in events), default=None)
        try:
            until = parse_until(data.until, start)
        except UserError as error:  # its messages name the command-line option
            raise UserError(str(error).removeprefix("--")) from None
        if until - (start or until) > PREVIEW_MAX_SPAN:
            raise UserError(f"until: a preview covers at most {PREVIEW_MAX_SPAN.days} days")
        try:
            return simulate(
                [document],
                events,
                until,
                data.members,
                data.groups,
                services.registry,
                start=data.start,
                elsewhere=services.engine.flow_ids(),
                limit=PREVIEW_LIMIT,
                content=list(services.store.content_index().values()),
            )
        except UserError as error:
            if not str(error).startswith("--"):
                raise
            raise UserError(str(error).removeprefix("--")) from None

    @post(
        "/{flow_id:str}/backtest",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Run the draft over the last N days of stored events",
        description="Body: `{days}` (1–90, default 30), optionally `version` (a published version "
        "instead of the draft) and `budget` (`{messages, per}`). The flow runs from the members as "
        "they are now over the stored events of those days, under a simulated clock, in a scratch "
        "store: nothing real is touched. The answer is a preview's (`runs`, `nodes`, the first "
        "`deliveries`) plus `entered`, `per_day`, `kinds`, and the `quota` and `budget` the messages "
        "would use. 422 with every problem when the flow is invalid.",
    )
    def backtest(
        self, services: ServicesDep, flow_id: FlowId, data: JSONBody[BacktestRequest]
    ) -> BacktestResult:
        record = services.store.get_flow(flow_id)
        document = (
            record.draft if data.version is None else services.store.version_document(flow_id, data.version)
        )
        return backtest(
            services.store,
            document,
            data.days,
            services.clock.now(),
            registry=services.registry,
            elsewhere=services.engine.flow_ids(),
            quota=mass_send_limit(services),
            budget=data.budget or touch_budget(services),
        )

    @get(
        "/{flow_id:str}/stats",
        guards=[allow(READ)],
        sync_to_thread=True,
        summary="Per-node statistics",
        description="Every version's runs added up, or with `?version=N` those of version N only; each "
        "node also gives `by_version` (entered and waiting on each version that has any).",
    )
    def stats(
        self,
        services: ServicesDep,
        flow_id: FlowId,
        version: Annotated[
            int | None, Parameter(ge=1, le=2**31 - 1, description="a published version")
        ] = None,
    ) -> FlowStats:
        return flow_stats(services, flow_id, version)

    @post(
        "/{flow_id:str}/layout",
        guards=[allow(READ)],
        sync_to_thread=True,
        status_code=200,
        summary="Lay the flow's nodes out in columns (auto-layout)",
        description="Body: the flow's `nodes` (each with its `id`; other fields are ignored) and `edges` "
        "(`from`, `to`), as the canvas has them now; without a body, the stored draft. The answer puts "
        "the nodes in columns by topological generation (a node one column right of its furthest "
        "predecessor), top to bottom, and gives each node's top-left `position`. A draft with a cycle "
        "or edges to unknown nodes is laid out too (those edges are left out). Nothing is stored.",
    )
    def layout(self, services: ServicesDep, flow_id: FlowId, data: LayoutBody = None) -> LayoutView:
        if data is None:
            draft = services.store.get_flow(flow_id).draft
            data = {"nodes": draft.get("nodes", []), "edges": draft.get("edges", [])}
        request = layout_request(data)
        done = layered_layout([n.id for n in request.nodes], [(e.source, e.to) for e in request.edges])
        positions = {node: NodePosition(x, y) for node, (x, y) in done.positions.items()}
        return LayoutView(done.columns, positions)


def _decided(services: Services, flow_id: str, by: str, approved: bool, reason: str | None) -> int:
    try:
        return services.write(decide, services.engine, flow_id, by, approved, reason)
    except SameRequester as error:
        raise PermissionDeniedException(str(error)) from None


def _detail(services: Services, flow_id: str) -> FlowDetail:
    record = services.store.get_flow(flow_id)
    versions = [
        VersionView(
            v["version"],
            iso(v["published_at"]),
            services.store.version_document(flow_id, v["version"]),
            v["status"],
            v["requested_by"],
            v["decided_by"],
            iso(v["decided_at"]) if v["decided_at"] is not None else None,
            v["reason"],
            v["reach"],
        )
        for v in services.store.version_history(flow_id)
    ]
    return FlowDetail(
        record.id,
        record.name,
        record.draft,
        iso(record.draft_updated_at),
        record.live_version,
        bool(record.paused),
        versions,
    )


__all__ = ["BacktestRequest", "FlowController", "PreviewRequest", "flow_stats", "flow_summaries"]
