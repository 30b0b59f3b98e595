"""An operator's retry and cancel of one delivery: only from the right status, never racing a send."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fleet import delay_flow

from qunflow.engine import Engine, Event, SimClock, Store
from qunflow.engine.clock import to_us
from qunflow.engine.connectors import DeliveryFailed, RecordingConnector
from qunflow.engine.errors import Conflict, NotFound
from qunflow.engine.outbox import Dispatcher
from qunflow.engine.store.leases import Settled


class Down:
    name = "down"

    def send(self, delivery) -> None:
        raise DeliveryFailed("the endpoint refused the coupon", retryable=False)


@pytest.fixture
def coupons(engine: Engine, clock: SimClock) -> Engine:
    """Two journeys whose coupon deliveries are pending."""
    engine.deploy(delay_flow(delay="PT1M"))
    engine.ingest([Event(id=f"e-{i}", type="signup", at=clock.now(), member=f"m-{i}") for i in range(2)])
    clock.advance_to(clock.now() + timedelta(minutes=1))
    assert engine.run_due() == 2
    return engine


def _statuses(store: Store) -> list[str]:
    return [r["status"] for r in store.deliveries(flow_id="storm")]


def test_a_cancelled_delivery_is_never_sent(coupons: Engine, store: Store, clock: SimClock) -> None:
    first, second = (r["id"] for r in store.deliveries(flow_id="storm"))
    store.cancel_delivery(first, to_us(clock.now()))
    recording = RecordingConnector()
    assert Dispatcher(store, recording, clock=clock).drain().recorded == 1
    assert _statuses(store) == ["cancelled", "recorded"]
    assert len(recording.received) == 1
    # Settled or cancelled already: refused, naming the status; an unknown id is not found.
    with pytest.raises(Conflict, match="is cancelled: only a pending delivery can be cancelled"):
        store.cancel_delivery(first, to_us(clock.now()))
    with pytest.raises(Conflict, match="is recorded"):
        store.cancel_delivery(second, to_us(clock.now()))
    with pytest.raises(NotFound, match="no delivery 999"):
        store.cancel_delivery(999, to_us(clock.now()))


def test_a_delivery_a_dispatcher_holds_cannot_be_cancelled(
    coupons: Engine, store: Store, clock: SimClock
) -> None:
    now = to_us(clock.now())
    held = store.lease_deliveries(now, 1, "dispatcher-a", now + 30_000_000)
    assert len(held) == 1
    with pytest.raises(Conflict, match="being sent right now"):
        store.cancel_delivery(held[0].id, now)
    # The send goes on and is recorded as the dispatcher made it.
    assert store.settle_deliveries("dispatcher-a", [Settled(held[0].id, "sent", sent_at=now)]) == 1
    # A lease whose dispatcher died (its deadline passed) no longer protects the delivery.
    held = store.lease_deliveries(now, 1, "dispatcher-b", now + 30_000_000)
    store.cancel_delivery(held[0].id, now + 31_000_000)
    assert store.settle_deliveries("dispatcher-b", [Settled(held[0].id, "sent", sent_at=now)]) == 0
    assert sorted(_statuses(store)) == ["cancelled", "sent"]


def test_cancel_and_lease_at_once_leave_one_winner(coupons: Engine, store: Store, clock: SimClock) -> None:
    """Many rounds of a cancel racing a dispatcher's lease: each delivery ends cancelled or leased,
    never both."""
    for round_ in range(10):
        coupons.ingest([Event(id=f"r-{round_}", type="signup", at=clock.now(), member=f"r-{round_}")])
    clock.advance_to(clock.now() + timedelta(minutes=1))
    coupons.run_due()
    now = to_us(clock.now())
    pending = [r["id"] for r in store.deliveries(flow_id="storm", status="pending")]
    assert len(pending) == 12
    cancelled: list[int] = []
    leased: list[int] = []

    def cancel_all() -> None:
        for delivery_id in pending:
            try:
                store.cancel_delivery(delivery_id, now)
                cancelled.append(delivery_id)
            except Conflict:
                pass

    def lease_all() -> None:
        for _ in range(len(pending)):
            leased.extend(d.id for d in store.lease_deliveries(now, 1, "racer", now + 30_000_000))

    threads = [threading.Thread(target=cancel_all), threading.Thread(target=lease_all)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not set(cancelled) & set(leased)
    assert sorted(cancelled + leased) == sorted(pending)
    rows = {r["id"]: r["status"] for r in store.deliveries(flow_id="storm")}
    assert all(rows[i] == "cancelled" for i in cancelled) and all(rows[i] == "pending" for i in leased)


def test_a_failed_delivery_is_retried_with_its_key(coupons: Engine, store: Store, clock: SimClock) -> None:
    Dispatcher(store, Down(), clock=clock).drain()
    assert _statuses(store) == ["failed", "failed"]
    first = store.deliveries(flow_id="storm")[0]
    store.retry_delivery(first["id"], to_us(clock.now()))
    with pytest.raises(Conflict, match="is pending: only a failed delivery can be retried"):
        store.retry_delivery(first["id"], to_us(clock.now()))
    recording = RecordingConnector()
    assert Dispatcher(store, recording, clock=clock).drain().recorded == 1
    assert list(recording.received) == [first["key"]]
    assert _statuses(store) == ["recorded", "failed"]
    with pytest.raises(NotFound):
        store.retry_delivery(12345, to_us(clock.now()))
