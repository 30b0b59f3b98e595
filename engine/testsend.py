"""Test sends (测试发送, issue #15): a node's message sent now to a member or a staff account that the
operator chooses, to see it arrive before members get it.

- **What is sent** is what the node's step would send: its type's declared `message(ctx, config)`
  (`engine.registry`, the function the step itself calls), with the node's config from the flow's draft and
  the placeholders filled from the chosen member. A test has no event and no run: `{{ event.* }}`
  and `{{ run.* }}` render empty, as they would for a run without them.
- **To whom**: the chosen member (`to: member`), or a staff account (`to: staff`, `staff`: its id),
  whoever the node addresses (a group post is not posted in the group). A welcome goes as a
  `message`: WeCom takes a welcome only with the code of an add made seconds before.
- **How**: the delivery is written to the outbox already leased to the caller's dispatcher, which
  sends it at once through the connector its kind is routed to (:meth:`Dispatcher.send_held`), as it
  sends every delivery: a retryable failure is retried later by the workers, a quota skips it, the
  status says what happened (`recorded` while no connector is routed).
- **Counted nowhere**: the row is marked `test`; the frequency cap, the touch budget, the WeCom quota
  ledger, the reports and the flows' counters all leave it out. No run moves, no counter changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import insert

from .clock import Clock, to_us
from .community import Community
from .compiler import Plan, PlanNode, check
from .connectors import ConfiguredRoutes, ConnectorContext, ConnectorSettings
from .context import Context, Stepping
from .errors import Problem, UserError
from .outbox import Dispatcher, owner_name
from .outcome import Fail
from .store import schema as t
from .store.leases import PENDING, LeasedDelivery

if TYPE_CHECKING:
    from .member import Member
    from .registry import Registry
    from .store import Store

# How long the delivery is held for the dispatcher that sends it: the workers leave it alone meanwhile,
# and take it over if this process stops before it is sent.
HOLD = timedelta(seconds=30)


class Refused(UserError):
    """The test send cannot be made. `field` names what is wrong; `zh` and `en` say it for the
    operator, or `problem` does (a problem of the node's settings, worded as the checker's are);
    `missing`: something named does not exist (404), else the request cannot be carried out (422)."""

    def __init__(
        self,
        field: str,
        en: str = "",
        zh: str = "",
        *,
        missing: bool = False,
        problem: Problem | None = None,
    ) -> None:
        self.field, self.en, self.zh, self.missing, self.problem = field, en, zh, missing, problem
        said = f"{en} ({zh})" if problem is None else problem.message
        super().__init__(f"{field}: {said}")


@dataclass(frozen=True)
class Prepared:
    """A test delivery ready to send: from `flow` and `node`, `kind` with `payload`, to `member` (the
    chosen member; None when it goes to a staff account, named in the payload)."""

    flow: str
    node: str
    kind: str
    payload: dict[str, Any]
    member: str | None


def prepare(
    store: Store,
    registry: Registry,
    document: dict[str, Any],
    node_id: str,
    now: datetime,
    *,
    member: str | None = None,
    staff: str | None = None,
) -> Prepared:
    """The message `node_id` of the flow `document` (a draft) sends, rendered for `member` and
    addressed to `member`, or to the staff account `staff` (then `member`, if given, only fills the
    placeholders). Raises :class:`Refused` naming the field when it cannot be made."""
    if member is None and staff is None:
        raise Refused("member", "choose a member or a staff account to send to", "请选择接收的成员或员工账号")
    flow, configs, problems = check(document, registry, content=store.content_index())
    node = _node(flow, document, node_id)
    node_type = registry.get(node.type)
    if node_type is None or node_type.message is None:
        raise Refused("node", "this node sends no message to test", "这个节点不发送消息，无法测试发送")
    # Only what the message is made of matters: a node not wired up yet can be tested.
    own = [p for p in problems if _concerns(p, node_id)]
    if own or node_id not in configs:
        first = own[0] if own else Problem(node_id, "config", "the settings cannot be read")
        raise Refused(first.path or "config", problem=first)
    with store.engine.connect() as conn:
        if staff is not None and not store.list_staff_by_id([staff]):
            raise Refused(
                "staff", f"there is no staff account `{staff}`", f"找不到员工账号 {staff}", missing=True
            )
        people = store.load_members(conn, [member]) if member is not None else {}
        if member is not None and member not in people:
            raise Refused("member", f"there is no member `{member}`", f"找不到成员 {member}", missing=True)
        ctx = _context(store, conn, flow, node, node_type, configs[node_id], people.get(member or ""), now)
        made = node_type.message(ctx, configs[node_id])
    if isinstance(made, Fail):
        field, _, why = made.reason.partition(": ")
        path = field if why else "config"
        raise Refused(path, problem=Problem(node_id, path, why or made.reason))
    kind, payload = made
    kind, payload = _readdressed(kind, payload, staff)
    return Prepared(flow.id, node_id, kind, payload, member if staff is None else None)


@contextmanager
def routed_dispatcher(
    store: Store, clock: Clock, settings: ConnectorSettings, context: ConnectorContext, hooks: Any = ()
) -> Iterator[Dispatcher]:
    """A dispatcher for a test send, through the routes and connector options admins configured (as
    `serve`'s and `worker`'s); the connectors it opened are closed on leaving. `hooks` hear of the
    settled delivery as the engine's do."""
    router = ConfiguredRoutes(settings, context)
    dispatcher = Dispatcher(store, router=router, clock=clock, owner=owner_name("test-send"), hooks=hooks)
    try:
        yield dispatcher
    finally:
        dispatcher.close()
        for connector in router.connectors():
            close = getattr(connector, "close", None)
            if callable(close):
                close()


# -- the parts -------------------------------------------------------------------------------------


def _node(flow: Any, document: dict[str, Any], node_id: str) -> Any:
    nodes = flow.nodes if flow is not None else []
    for node in nodes:
        if node.id == node_id:
            return node
    if flow is None:  # the draft does not even decode: say so on the node
        raise Refused("node", "the draft cannot be read; fix it first", "草稿无法读取，请先修正")
    raise Refused("node", f"the draft has no node `{node_id}`", f"草稿中没有节点 {node_id}", missing=True)


def _concerns(problem: Problem, node_id: str) -> bool:
    """Whether a problem of the draft keeps the node's message from being made: one in its settings,
    or the flow's timezone."""
    if problem.node is None:
        return problem.path == "timezone"
    return problem.node == node_id and (problem.path == "config" or problem.path.startswith("config."))


class _Reading:
    """What a step's context asks of its batch, for one member at one moment, reading only: the
    community around the member (groups, content items). Nothing is ever written through it."""

    def __init__(self, store: Store, conn: Any, member: Member | None, now: datetime) -> None:
        members = {member.id: member} if member is not None else {}
        self.community = Community(store, conn, members, list(members))
        self.now = now
        self.now_us = to_us(now)

    def run_event(self, run: Any) -> None:
        return None


def _context(
    store: Store,
    conn: Any,
    flow: Any,
    node: Any,
    node_type: Any,
    config: Any,
    member: Member | None,
    now: datetime,
) -> Context:
    """A step's context for `node`, bound to `member` with no run and no event."""
    plan_node = PlanNode(
        id=node.id,
        kind=node_type.kind,
        node_type=node_type,
        config=config,
        step=node_type.step,
        next={},
        entered=(flow.id, node.id, "entered", 0),  # counted nowhere: a test has no version
        exits={},
    )
    plan = Plan(
        flow=flow,
        version=0,
        tz=ZoneInfo(flow.timezone),
        nodes={node.id: plan_node},
        triggers={},
        reentry=None,
        forks=False,
    )
    ctx = Context(cast(Stepping, _Reading(store, conn, member, now)))
    ctx._bind(plan, plan_node, None, member, None)
    return ctx


def _readdressed(kind: str, payload: dict[str, Any], staff: str | None) -> tuple[str, dict[str, Any]]:
    """The node's delivery sent to the chosen member or staff account instead of whom the node
    addresses; a welcome as a message (its code, if any, belongs to a real add)."""
    payload = {k: v for k, v in payload.items() if k not in ("group", "welcome_code", "staff")}
    if kind == "welcome":
        kind = "message"
    payload["to"] = "member" if staff is None else "staff"
    if staff is not None:
        payload["staff"] = staff
    return kind, payload


def hold(store: Store, message: Prepared, owner: str, now: datetime) -> LeasedDelivery:
    """Write the test delivery, leased to `owner` from the start (the workers leave it to the caller
    unless the lease runs out), for `Dispatcher.send_held`; no rollup, touch or counter moves."""
    at = to_us(now)
    payload = msgspec.json.encode(message.payload).decode()
    with store.transaction() as conn:
        delivery_id = store.allocate(conn, "ids", 1)
        key = f"test:{delivery_id}:{message.flow}:{message.node}"
        conn.execute(
            insert(t.deliveries).values(
                id=delivery_id,
                key=key,
                flow_id=message.flow,
                node=message.node,
                run_id=None,
                member_id=message.member,
                kind=message.kind,
                payload=payload,
                at=at,
                status=PENDING,
                attempts=1,
                next_attempt_at=to_us(now + HOLD),
                lease_owner=owner,
                touch=False,
                test=True,
            )
        )
    return LeasedDelivery(
        delivery_id, key, message.flow, message.node, None, message.member, message.kind, payload, at, 1, True
    )


__all__ = ["HOLD", "Prepared", "Refused", "hold", "prepare", "routed_dispatcher"]
