"""`simulate`'s driver takes events and the runs that wake between them in shared batches: whatever
the batches, it must step everything as taking one event at a time, and stepping each wake on its
own, would."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest
from documents import START, flow, node

from qunflow.engine import Engine, Registry, SimClock, Store, compile_flow
from qunflow.engine.event import Event, convert_events
from qunflow.engine.member import GroupRecord
from qunflow.engine.simulate import drive, report
from qunflow.flows import load_template, template_names

GROUPS = [
    {"id": "g-fans-1", "name": "粉丝 1 群", "tags": ["fans"], "kind": "fans"},
    {"id": "g-fans-2", "name": "粉丝 2 群", "tags": ["fans"], "kind": "fans"},
]

# Short waits, so that runs park and wake inside one batch of events: a delay, a wait for an event
# with a timeout, and a broadcast (an audience read) by a run the clock woke.
QUICK = flow(
    "quick",
    [
        node("said", "trigger.message"),
        node("pause", "wait.delay", duration="PT5M"),
        node("mark", "action.send_message", text="{{ member.name }}"),
        node("reply", "wait.for_event", event="message", timeout="PT10M"),
        node("replied", "action.add_tag", tags=["replied"]),
        node("silent", "action.add_tag", tags=["silent"]),
    ],
    [("said", "pause"), ("pause", "mark"), ("mark", "reply"), ("reply", "event", "replied")]
    + [("reply", "timeout", "silent")],
    settings={"reentry": "always"},
)
SLOW = flow(
    "slow",
    [
        node("bought", "trigger.purchase"),
        node("pause", "wait.delay", duration="PT10M"),
        node("thanks", "action.send_message", text="{{ member.name }}"),
    ],
    [("bought", "pause"), ("pause", "thanks")],
)
ECHO = flow(
    "echo",
    [
        node("bought", "trigger.purchase"),
        node("buyer", "action.add_tag", tags=["buyer"]),
        node("pause", "wait.delay", duration="PT3M"),
        node("tell", "action.broadcast", audience={"tags_all": ["buyer"]}, text="{{ member.name }}"),
    ],
    [("bought", "buyer"), ("buyer", "pause"), ("pause", "tell")],
)


def community(members: int, days: int, seed: int) -> list[Event]:
    """Joins, messages (some answered minutes later) and purchases a few minutes apart, in a two-hour
    window each day (ties and duplicates included)."""
    rng = random.Random(seed)
    found: list[dict[str, Any]] = []

    def at(after: datetime | None = None) -> datetime:
        if after is not None:
            return after + timedelta(minutes=rng.randrange(1, 12))
        return START + timedelta(days=rng.randrange(days), minutes=rng.randrange(120))

    for index in range(members):
        mid = f"m-{index:03}"
        found.append({"id": f"c-{index}", "type": "contact_added", "member": mid, "at": at()})
        found[-1]["channel"] = "qr-store-07"
        found.append({"id": f"j-{index}", "type": "member_joined", "member": mid, "at": at()})
        found[-1] |= {"group": rng.choice(GROUPS)["id"], "profile": {"name": f"成员{index}"}}
        for n in range(rng.randrange(4)):
            said = at()
            found.append({"id": f"s-{index}-{n}", "type": "message", "member": mid, "at": said, "data": {}})
            if rng.random() < 0.5:
                found.append({"id": f"r-{index}-{n}", "type": "message", "member": mid, "at": at(said)})
        if rng.random() < 0.4:
            found.append({"id": f"p-{index}", "type": "purchase", "member": mid, "at": at()})
            found[-1]["data"] = {"amount": 299}
    found += [dict(e) for e in rng.sample(found, 5)]  # the same event twice is acted on once
    for item in found:
        item["at"] = item["at"].isoformat()
    return sorted(convert_events(found), key=lambda e: e.at)


def one_at_a_time(engine: Engine, clock: SimClock, events: list[Event], until: datetime) -> None:
    """Each event in a batch of its own at its moment, after the runs and cron fires due before it."""
    for event in events:
        while (wake := engine.next_wake()) is not None and wake < event.at:
            clock.advance_to(wake)
            engine.run_due()
        clock.advance_to(event.at)
        engine.ingest([event])
    while (wake := engine.next_wake()) is not None and wake <= until:
        clock.advance_to(wake)
        engine.run_due()


def outcome(
    url: str,
    registry: Registry,
    batch_size: int,
    events: list[Event],
    driver: Any,
    documents: list[dict[str, Any]],
) -> dict[str, Any]:
    store = Store.open(url)
    try:
        clock = SimClock(START)
        engine = Engine(store, registry, clock, batch_size=batch_size)
        with store.transaction() as conn:
            store.upsert_groups(conn, [msgspec.to_builtins(msgspec.convert(g, GroupRecord)) for g in GROUPS])
        for document in documents:
            engine.deploy(document)
        driver(engine, clock, events, START + timedelta(days=4))
        found = report(store, [compile_flow(document, registry) for document in documents])
        found["counters"] = store.node_counts()
        return found
    finally:
        store.close()


@pytest.mark.parametrize("batch_size", [3, 500])
def test_batches_step_everything_as_one_event_at_a_time_would(
    store_url: str, tmp_path: Any, registry: Registry, batch_size: int
) -> None:
    events = community(members=60, days=3, seed=batch_size)
    documents = [load_template(name) for name in template_names()] + [QUICK, SLOW, ECHO]
    one = f"sqlite:///{tmp_path / 'one.db'}"
    expected = outcome(one, registry, batch_size, events, one_at_a_time, documents)
    got = outcome(store_url, registry, batch_size, events, drive, documents)
    assert got == expected
    # The short waits did park and wake, and woke by an event as well as by their timeout.
    assert expected["nodes"]["quick"].keys() >= {"mark", "replied", "silent"}
    assert expected["nodes"]["echo"].get("tell")


# Events as (id, type, member, minutes after START), in batches of two, so that a wait parked by one
# batch is stored when the next one starts.
CASES = {
    "a run the batch parked wakes before a stored one": [
        ("x", "purchase", "m-x", 0),
        ("f", "contact_added", "m-f", 0),
        ("y", "message", "m-y", 2),
        ("q", "contact_added", "m-q", 12),
    ],
    "a stored wait for an event times out before its member's next event": [
        ("a", "message", "m-a", 0),
        ("b", "contact_added", "m-b", 10),
        ("c", "message", "m-a", 20),
    ],
}


@pytest.mark.parametrize("case", CASES)
def test_a_batch_stops_before_what_it_cannot_step_in_order(
    store_url: str, tmp_path: Any, registry: Registry, case: str
) -> None:
    events = convert_events(
        [
            {"id": i, "type": kind, "member": who, "at": (START + timedelta(minutes=minutes)).isoformat()}
            for i, kind, who, minutes in CASES[case]
        ]
    )
    one = f"sqlite:///{tmp_path / 'one.db'}"
    expected = outcome(one, registry, 2, events, one_at_a_time, [QUICK, SLOW])
    assert outcome(store_url, registry, 2, events, drive, [QUICK, SLOW]) == expected
