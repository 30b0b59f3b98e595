"""`simulate` (DESIGN §7, a contract): flows and events in, a deterministic report out.

A fresh in-memory store, a simulated clock that starts at the first event and jumps from due moment
to due moment, and the recording connector (deliveries stay in the outbox, where the report reads them).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec

from .clock import SimClock, from_us, to_us
from .compiler import compile_flow
from .engine import Engine
from .errors import UserError
from .event import Event
from .member import GroupRecord, MemberRecord
from .registry import Registry, default_registry
from .run import STATUSES
from .store import Store


def parse_moment(text: str, option: str) -> datetime:
    """A timestamp with a UTC offset, or a one-line error naming the option."""
    try:
        moment = msgspec.convert(text, datetime)
    except msgspec.ValidationError:
        raise UserError(f"{option}: `{text}` is not a timestamp like 2026-12-01T00:00:00+08:00") from None
    if moment.tzinfo is None:
        raise UserError(f"{option}: `{text}` needs a UTC offset, like 2026-12-01T00:00:00+08:00")
    return moment


def parse_until(text: str, start: datetime | None) -> datetime:
    """`--until`: an ISO 8601 timestamp with an offset, or a duration after the start (`P30D`)."""
    if text.startswith("P"):
        try:
            span = msgspec.convert(text, timedelta)
        except msgspec.ValidationError:
            raise UserError(f"--until: `{text}` is not an ISO 8601 duration like P30D") from None
        if start is None:
            raise UserError("--until: a duration needs --start or at least one event to count from")
        return start + span
    return parse_moment(text, "--until")


def simulate(
    flows: Sequence[dict[str, Any]],
    events: Sequence[Event],
    until: str | datetime,
    members: Sequence[MemberRecord] = (),
    groups: Sequence[GroupRecord] = (),
    registry: Registry | None = None,
    store_url: str = "sqlite://",
    start: datetime | None = None,
) -> dict[str, Any]:
    """Run flows on events under a simulated clock and report deliveries, members, runs and nodes.

    The clock starts at `start`, or else at the first event (a flow run only by its cron schedule
    needs `start`)."""
    registry = registry or default_registry()
    plans = [compile_flow(doc, registry) for doc in flows]
    ids = [p.flow.id for p in plans]
    if len(set(ids)) != len(ids):
        raise UserError("two flows share the id " + next(i for i in ids if ids.count(i) > 1))
    ordered = sorted(events, key=lambda e: e.at)
    if start is None:
        start = ordered[0].at if ordered else None
    elif ordered and ordered[0].at < start:
        raise UserError(f"--start: the first event ({ordered[0].id}) comes before {start.isoformat()}")
    end = until if isinstance(until, datetime) else parse_until(until, start)
    clock = SimClock(start or end)
    store = Store.open(store_url)
    try:
        engine = Engine(store, registry, clock)
        store.put_members([m.to_member(to_us(clock.now())) for m in members])
        with store.transaction() as conn:
            store.upsert_groups(conn, [msgspec.to_builtins(g) for g in groups])
        for doc in flows:
            engine.deploy(doc)
        drive(engine, clock, ordered, end)
        return report(store, plans)
    finally:
        store.close()


def drive(engine: Engine, clock: SimClock, events: Sequence[Event], until: datetime) -> None:
    """Feed events in time order and step due runs in between, jumping the clock; stop at `until`."""
    index = 0
    while True:
        next_event = events[index].at if index < len(events) else None
        wake = engine.next_wake()
        if next_event is not None and (wake is None or next_event <= wake):
            if next_event > until:
                return
            # Events up to the next wake go in together, each at its own moment.
            limit = min(until, wake) if wake is not None else until
            taken = engine.replay(events[index:], limit)
            index += taken
            clock.advance_to(events[index - 1].at)
        elif wake is not None:
            if wake > until:
                return
            clock.advance_to(wake)
            engine.run_due()
        else:
            return


def report(store: Store, plans: Sequence[Any]) -> dict[str, Any]:
    tz = {p.flow.id: p.tz for p in plans}
    order = {p.flow.id: [n.id for n in p.flow.nodes] for p in plans}
    deliveries = [
        {
            "at": from_us(d["at"]).astimezone(tz.get(d["flow"])).isoformat(),
            "flow": d["flow"],
            "node": d["node"],
            "member": d["member"],
            "kind": d["kind"],
            "payload": d["payload"],
        }
        for d in store.deliveries()
    ]
    statuses = store.journey_statuses()
    counts = store.node_counts()
    return {
        "deliveries": deliveries,
        "members": {mid: m.summary() for mid, m in sorted(store.all_members().items())},
        "runs": {
            flow_id: {s: statuses.get(flow_id, {}).get(s, 0) for s in STATUSES_REPORTED}
            for flow_id in sorted(tz)
        },
        "nodes": {
            flow_id: {
                node: counts[flow_id][node]["entered"]
                for node in order[flow_id]
                if counts.get(flow_id, {}).get(node, {}).get("entered")
            }
            for flow_id in sorted(tz)
        },
    }


STATUSES_REPORTED = ("done", "waiting", "active", "exited", "failed")
assert set(STATUSES_REPORTED) == set(STATUSES)


def encode_report(result: dict[str, Any]) -> bytes:
    return msgspec.json.format(msgspec.json.encode(result), indent=2) + b"\n"
