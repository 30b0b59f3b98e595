"""Runs that wait for the outside world: a delivery settles, the run that waits for it goes on
(DESIGN §19).

A step that waits for its delivery (`ctx.deliver(..., wait=True)`, then `WaitFor(DELIVERY_SETTLED)`)
marks it in the outbox; the statement that gives the delivery its final status queues it
(engine.store.settled). :func:`resume_settled` empties that queue in batches, each in one
transaction: for each settled delivery it writes a `delivery_settled` event (the member's timeline
shows it; `trigger.event` may start a flow on it) and resumes the run if it still waits at that node,
and it marks the delivery told. The queue is read through an index that holds only what is due, so
nothing scans waiting runs; a settlement is acted on once, by whichever process takes it first,
and one that no process has taken yet survives any restart.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from .batch import Batch
from .clock import from_us
from .event import DELIVERY_SETTLED, Event
from .hooks import BatchDone
from .store.retry import retrying

if TYPE_CHECKING:
    from .clock import Clock
    from .flow_cache import FlowCache
    from .hooks import HookChain
    from .store import Store
    from .store.settled import SettledDelivery


class Engine(Protocol):
    """What telling settlements needs of the engine (engine.engine.Engine, which calls it)."""

    store: Store
    flows: FlowCache
    clock: Clock
    hooks: HookChain
    batch_size: int

    def committed(self, done: BatchDone | None) -> None: ...


def settled_event(delivery: SettledDelivery, fallback: datetime) -> Event:
    """The event that says how a delivery settled: for the delivery's member (a group's run has
    none), at the moment it settled, with what the waiting step reads (`ctx.settlement`)."""
    data: dict[str, Any] = {
        "delivery": delivery.id,
        "kind": delivery.kind,
        "status": delivery.status,
        "flow": delivery.flow,
        "node": delivery.node,
        "run": delivery.run,
    }
    if delivery.reason:
        data["reason"] = delivery.reason
    if delivery.error:
        data["error"] = delivery.error
    group = None
    if delivery.member is None:
        payload = msgspec.json.decode(delivery.payload)
        group = payload.get("group") if isinstance(payload, dict) else None
    return Event(
        id=f"delivery:{delivery.id}:settled",
        type=DELIVERY_SETTLED,
        at=from_us(delivery.settled_at) if delivery.settled_at else fallback,
        member=delivery.member,
        group=group if isinstance(group, str) else None,
        data=data,
    )


def resume_settled(engine: Engine, now: datetime | None = None) -> int:
    """Tell the runs waiting for deliveries that have settled, a batch at a time, until none is
    left; returns how many settlements were taken."""
    if not engine.store.any_settled():
        return 0
    moment = now or engine.clock.now()
    taken = 0
    while True:
        count, done = retrying(lambda: _one_batch(engine, moment))
        engine.committed(done)
        taken += count
        if count < engine.batch_size:
            return taken


def _one_batch(engine: Engine, moment: datetime) -> tuple[int, BatchDone | None]:
    store = engine.store
    with store.transaction() as conn:
        settled = store.claim_settled(conn, engine.batch_size)
        if not settled:
            return 0, None
        # Locks in the order every batch takes them: runs, then members.
        runs = {r.id: r for r in store.runs_by_id(conn, [d.run for d in settled if d.run is not None])}
        members = {d.member for d in settled if d.member is not None}
        members |= {r.member_id for r in runs.values() if r.member_id is not None}
        store.lock_members(conn, members)
        events = [settled_event(d, moment) for d in settled]
        known = store.known_event_ids(conn, sorted(e.id for e in events))
        fresh = [(d, e) for d, e in zip(settled, events, strict=True) if e.id not in known]
        batch = Batch(store, engine.flows, conn, moment, members)
        seq = store.allocate(conn, "events", len(fresh)) if fresh else 0
        for delivery, event in fresh:
            batch.settle(event, seq, runs.get(delivery.run) if delivery.run is not None else None)
            seq += 1
        store.mark_told(conn, [d.id for d in settled])
        batch.flush()
        return len(settled), engine.hooks.summary(batch)


__all__ = ["resume_settled", "settled_event"]
