"""Runs that wait for the outside world (DESIGN §19, §20), under the simulated clock on a real store:
`action.send_message` with `wait` branches on how its delivery settled, and `action.invite_to_group`
with `wait` on whether the member joined within `within`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from documents import START, event, flow, node

from qunflow.engine import Engine, SimClock, Store
from qunflow.engine.connectors import Delivery, DeliveryFailed, Made
from qunflow.engine.event import convert_events
from qunflow.engine.outbox import Dispatcher
from qunflow.engine.store.leases import Settled
from qunflow.engine.worker import Worker

T = "2026-11-22T10:00:00+08:00"


class Scripted:
    """A connector that answers each member's message as the test says: `sent`, `skipped`, `failed`,
    or `awaiting` (awaiting confirmation, settled later by `confirm_deliveries`)."""

    name = "scripted"

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.calls: list[Delivery] = []

    def send(self, delivery: Delivery) -> Made:
        self.calls.append(delivery)
        answer = self.answers.get(delivery.member or "", "sent")
        if answer == "failed":
            raise DeliveryFailed("not a friend", retryable=False)
        if answer == "skipped":
            return Made("skipped", reason="quota")
        if answer == "awaiting":
            return Made("awaiting_confirmation", reference=f"msg-{delivery.member}")
        return Made("sent")


@pytest.fixture
def world(store: Store, clock: SimClock) -> Iterator[tuple[Engine, Worker, Scripted]]:
    connector = Scripted({})
    engine = Engine(store, clock=clock)
    dispatcher = Dispatcher(store, connector, clock=clock, owner="d")
    yield engine, Worker(engine, dispatcher, owner="w"), connector


def messaging(wait: bool = True) -> dict[str, Any]:
    ports = ("sent", "failed") if wait else ("next",)
    nodes = [
        node("t", "trigger.event", event="go"),
        node("hi", "action.send_message", text="你好 {{ member.name }}", wait=wait),
    ]
    edges: list[Any] = [("t", "hi")]
    for port in ports:
        nodes.append(node(f"after_{port}", "action.add_tag", tags=[port]))
        edges.append(("hi", port, f"after_{port}"))
    return flow("f", nodes, edges)


def go(*members: str) -> list[Any]:
    return convert_events([event(f"go-{m}", "go", T, member=m, profile={"name": m.upper()}) for m in members])


def tags(store: Store, member: str) -> list[str]:
    return store.get_member(member).tags


def test_a_waiting_message_goes_on_by_how_it_settled(world: Any, store: Store) -> None:
    engine, worker, connector = world
    connector.answers.update({"b": "failed", "c": "skipped"})
    engine.deploy(messaging())
    engine.ingest(go("a", "b", "c"))
    assert store.journey_statuses("f")["f"]["waiting"] == 3
    assert all(tags(store, m) == [] for m in "abc")

    done = worker.round()

    assert done.dispatch.leased == 3 and done.settled == 3
    assert tags(store, "a") == ["sent"]
    assert tags(store, "b") == ["failed"]
    assert tags(store, "c") == ["failed"]
    assert store.journey_statuses("f")["f"]["done"] == 3
    # The member's timeline holds the settlement, as an event of the run's member.
    [settled] = [e for e in store.member_events("b") if e["type"] == "delivery_settled"]
    assert settled["data"]["status"] == "failed" and settled["data"]["node"] == "hi"
    assert store.node_counts("f")["f"]["hi"] == {"entered": 3, "port:sent": 1, "port:failed": 2}


def test_without_wait_the_message_goes_on_at_once_and_nothing_is_queued(world: Any, store: Store) -> None:
    engine, worker, _ = world
    engine.deploy(messaging(wait=False))
    engine.ingest(go("a"))
    assert tags(store, "a") == ["next"]
    assert worker.round().settled == 0
    assert [e["type"] for e in store.member_events("a")] == ["go"]


def test_a_confirmation_resumes_once_however_often_it_is_reported(
    world: Any, store: Store, clock: SimClock
) -> None:
    engine, worker, connector = world
    connector.answers.update({"a": "awaiting", "b": "awaiting"})
    engine.deploy(messaging())
    engine.ingest(go("a", "b"))
    assert worker.round().settled == 0  # handed over; a person must still confirm it
    assert store.journey_statuses("f")["f"]["waiting"] == 2

    clock.advance_to(clock.now() + timedelta(hours=2))
    at = int(clock.now().timestamp() * 1_000_000)
    assert store.confirm_deliveries(["msg-a"], "sent", at) == 1
    assert store.confirm_deliveries(["msg-a"], "sent", at) == 0  # the same report again
    assert store.confirm_deliveries(["msg-b"], "failed", at, error="not confirmed in time") == 1
    assert engine.resume_settled() == 2
    assert engine.resume_settled() == 0
    assert store.confirm_deliveries(["msg-a", "msg-b"], "failed", at) == 0
    assert worker.round().settled == 0

    assert tags(store, "a") == ["sent"] and tags(store, "b") == ["failed"]
    assert store.node_counts("f")["f"]["hi"] == {"entered": 2, "port:sent": 1, "port:failed": 1}
    assert len([e for e in store.member_events("a") if e["type"] == "delivery_settled"]) == 1


def test_a_settle_seen_twice_by_two_dispatchers_resumes_once(
    world: Any, store: Store, clock: SimClock
) -> None:
    engine, _, _ = world
    engine.deploy(messaging())
    engine.ingest(go("a"))
    now = int(clock.now().timestamp() * 1_000_000)
    [held] = store.lease_deliveries(now, 10, "d1", now + 30_000_000)
    assert store.settle_deliveries("d1", [Settled(held.id, "sent", sent_at=now)], now=now) == 1
    assert store.settle_deliveries("d1", [Settled(held.id, "sent", sent_at=now)], now=now) == 0
    assert engine.resume_settled() == 1
    assert engine.resume_settled() == 0
    assert tags(store, "a") == ["sent"]
    assert store.node_counts("f")["f"]["after_sent"]["entered"] == 1


def test_a_failure_retried_by_an_operator_keeps_the_run_waiting_for_the_new_attempt(
    world: Any, store: Store, clock: SimClock
) -> None:
    engine, _, _ = world
    engine.deploy(messaging())
    engine.ingest(go("a"))
    now = int(clock.now().timestamp() * 1_000_000)
    [held] = store.lease_deliveries(now, 10, "d1", now + 30_000_000)
    store.settle_deliveries("d1", [Settled(held.id, "failed", error="down")], now=now)
    store.retry_delivery(held.id, now)  # before the engine took the failure
    assert engine.resume_settled() == 0
    assert store.journey_statuses("f")["f"]["waiting"] == 1
    [again] = store.lease_deliveries(now, 10, "d2", now + 30_000_000)
    store.settle_deliveries("d2", [Settled(again.id, "sent", sent_at=now)], now=now)
    assert engine.resume_settled() == 1
    assert tags(store, "a") == ["sent"]


def test_a_cancelled_message_goes_on_by_failed(world: Any, store: Store, clock: SimClock) -> None:
    engine, _, _ = world
    engine.deploy(messaging())
    engine.ingest(go("a"))
    [delivery] = store.deliveries(member_id="a")
    store.cancel_delivery(delivery["id"], int(clock.now().timestamp() * 1_000_000))
    assert engine.resume_settled() == 1
    assert tags(store, "a") == ["failed"]


def test_nobody_outside_can_answer_for_a_delivery() -> None:
    from qunflow.engine.errors import EventInvalid

    with pytest.raises(EventInvalid, match="delivery_settled"):
        convert_events([event("x", "delivery_settled", T, member="a", data={"node": "hi", "status": "sent"})])


def inviting(within: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"groups": ["vip-1"], "wait": True}
    if within is not None:
        config["within"] = within
    nodes = [node("t", "trigger.event", event="go"), node("vip", "action.invite_to_group", **config)]
    edges: list[Any] = [("t", "vip")]
    for port in ("joined", "not_joined", "full", "blocked"):
        nodes.append(node(f"after_{port}", "action.add_tag", tags=[port]))
        edges.append(("vip", port, f"after_{port}"))
    return flow("f", nodes, edges)


def joined(member: str, group: str, at: str) -> Any:
    return convert_events([event(f"j-{member}-{group}", "member_joined", at, member=member, group=group)])


def test_an_invitation_waits_for_the_member_to_join_that_group_within_its_time(
    world: Any, store: Store, clock: SimClock
) -> None:
    engine, _, _ = world
    engine.deploy(inviting())
    engine.ingest(go("a", "b"))
    assert [d["payload"] for d in store.deliveries(member_id="a")] == [{"group": "vip-1"}]
    assert store.get_member("a").groups == []  # not taken as accepted: joining is what the event says
    clock.advance_to(clock.now() + timedelta(days=1))
    engine.ingest(joined("a", "other", "2026-11-23T10:00:00+08:00"))  # another group: still waiting
    assert tags(store, "a") == []
    engine.ingest(joined("a", "vip-1", "2026-11-23T10:00:00+08:00"))
    assert tags(store, "a") == ["joined"]

    clock.advance_to(START + timedelta(days=3) - timedelta(seconds=1))
    engine.run_due()
    assert tags(store, "b") == []
    clock.advance_to(START + timedelta(days=3))
    engine.run_due()
    assert tags(store, "b") == ["not_joined"]
    # Joining after the time is up changes nothing for the run.
    engine.ingest(joined("b", "vip-1", "2026-11-25T11:00:00+08:00"))
    assert tags(store, "b") == ["not_joined"]
    assert store.node_counts("f")["f"]["vip"] == {"entered": 2, "port:joined": 1, "port:not_joined": 1}


def test_a_waiting_invitation_keeps_the_full_and_blocked_ports(world: Any, store: Store) -> None:
    engine, _, _ = world
    with store.transaction() as conn:
        store.upsert_groups(conn, [{"id": "vip-1", "capacity": 1}])
    engine.deploy(inviting(within="PT1H"))
    engine.ingest(convert_events([event("in", "member_joined", T, member="z", group="vip-1")]))
    engine.ingest(go("a"))
    assert tags(store, "a") == ["full"]
    engine.ingest(go("z"))
    assert tags(store, "z") == ["joined"]  # already in the pool's group
