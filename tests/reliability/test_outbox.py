"""The outbox dispatcher: statuses, retries with exponential backoff, leases, the key on each call."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fleet import delay_flow

from qunflow.engine import Engine, Event, SimClock, Store
from qunflow.engine.clock import to_us
from qunflow.engine.connectors import (
    Delivery,
    DeliveryFailed,
    Made,
    RecordingConnector,
    Unavailable,
    awaiting_confirmation,
    skipped,
)
from qunflow.engine.outbox import Dispatcher, RetryPolicy
from qunflow.engine.store.leases import Settled


class Flaky:
    """Fails the first `failures` calls of each key, retryably unless told otherwise."""

    name = "flaky"

    def __init__(self, failures: int, retryable: bool = True) -> None:
        self.failures = failures
        self.retryable = retryable
        self.calls: list[str] = []

    def send(self, delivery: Delivery) -> None:
        self.calls.append(delivery.key)
        if self.calls.count(delivery.key) <= self.failures:
            raise DeliveryFailed("the endpoint said 503", retryable=self.retryable)


@pytest.fixture
def coupons(engine: Engine, clock: SimClock) -> Engine:
    """Two journeys whose coupon deliveries are pending."""
    engine.deploy(delay_flow(delay="PT1M"))
    engine.ingest([Event(id=f"e-{i}", type="signup", at=clock.now(), member=f"m-{i}") for i in range(2)])
    clock.advance_to(clock.now() + timedelta(minutes=1))
    assert engine.run_due() == 2
    return engine


def test_pending_deliveries_are_recorded_once_with_their_keys(
    coupons: Engine, store: Store, clock: SimClock
) -> None:
    recording = RecordingConnector()
    dispatcher = Dispatcher(store, recording, clock=clock)

    # The recording connector keeps them: nothing left the server, so nothing is called sent.
    assert dispatcher.drain().recorded == 2
    assert dispatcher.drain().leased == 0

    rows = store.deliveries(flow_id="storm")
    assert [(r["status"], r["attempts"], r["error"]) for r in rows] == [("recorded", 1, None)] * 2
    assert sorted(recording.received) == sorted(r["key"] for r in rows)
    sent = recording.received[rows[0]["key"]]
    assert (sent.kind, sent.payload, sent.member, sent.at) == (
        "coupon",
        {"coupon": "welcome-10"},
        "m-0",
        clock.now(),
    )


def test_the_recording_connector_makes_a_repeated_key_once() -> None:
    recording = RecordingConnector()
    first = Delivery(key="7:coupon", kind="coupon", payload={"coupon": "a"}, flow="f", node="coupon")
    recording.send(first)
    recording.send(Delivery(key="7:coupon", kind="coupon", payload={"coupon": "b"}, flow="f", node="coupon"))

    assert recording.received == {"7:coupon": first}
    assert (recording.calls, recording.repeated) == (2, 1)


def test_retryable_failures_back_off_exponentially(coupons: Engine, store: Store, clock: SimClock) -> None:
    flaky = Flaky(failures=2)
    policy = RetryPolicy(max_attempts=5, first_delay=timedelta(seconds=10))
    dispatcher = Dispatcher(store, flaky, clock=clock, policy=policy)
    start = clock.now()

    assert dispatcher.dispatch().retrying == 2
    row = store.deliveries(flow_id="storm")[0]
    assert (row["status"], row["attempts"], row["error"]) == ("pending", 1, "the endpoint said 503")
    assert dispatcher.next_attempt() == start + timedelta(seconds=10)

    clock.advance_to(start + timedelta(seconds=9))
    assert dispatcher.dispatch().leased == 0  # not due yet
    clock.advance_to(start + timedelta(seconds=10))
    assert dispatcher.dispatch().retrying == 2
    assert dispatcher.next_attempt() == start + timedelta(seconds=30)  # then 20 s later

    clock.advance_to(start + timedelta(seconds=30))
    assert dispatcher.dispatch().sent == 2
    assert [(r["status"], r["attempts"]) for r in store.deliveries(flow_id="storm")] == [("sent", 3)] * 2
    assert len(set(flaky.calls)) == 2  # the same two keys, each called three times


def test_a_permanent_failure_fails_the_delivery_with_its_reason(
    coupons: Engine, store: Store, clock: SimClock
) -> None:
    dispatcher = Dispatcher(store, Flaky(failures=1, retryable=False), clock=clock)

    assert dispatcher.dispatch().failed == 2
    row = store.deliveries(flow_id="storm")[0]
    assert (row["status"], row["attempts"], row["error"]) == ("failed", 1, "the endpoint said 503")
    assert dispatcher.next_attempt() is None


def test_a_delivery_fails_after_the_last_attempt(coupons: Engine, store: Store, clock: SimClock) -> None:
    policy = RetryPolicy(max_attempts=2, first_delay=timedelta(seconds=1))
    dispatcher = Dispatcher(
        store, Unavailable("wecom", "WeCom is not configured"), clock=clock, policy=policy
    )

    dispatcher.dispatch()
    clock.advance_to(clock.now() + timedelta(seconds=1))
    assert dispatcher.dispatch().failed == 2
    row = store.deliveries(flow_id="storm")[0]
    assert (row["status"], row["error"]) == (
        "failed",
        "尝试 2 次后放弃 (gave up after 2 attempts)：WeCom is not configured",
    )


def test_a_connector_that_raises_does_not_stop_the_dispatcher(
    coupons: Engine, store: Store, clock: SimClock
) -> None:
    class Broken:
        name = "broken"

        def send(self, delivery: Delivery) -> None:
            raise KeyError("oops")

    assert Dispatcher(store, Broken(), clock=clock).dispatch().retrying == 2
    assert store.deliveries(flow_id="storm")[0]["error"] == "broken: KeyError: 'oops'"


def test_a_leased_delivery_waits_for_its_lease_and_a_late_outcome_is_ignored(
    coupons: Engine, store: Store, clock: SimClock
) -> None:
    now = to_us(clock.now())
    held = store.lease_deliveries(now, 10, "dead", now + 30_000_000)  # leased, then the dispatcher died
    recording = RecordingConnector()
    other = Dispatcher(store, recording, clock=clock, lease=timedelta(seconds=30))

    assert other.dispatch().leased == 0
    clock.advance_to(clock.now() + timedelta(seconds=30))
    assert other.dispatch().recorded == 2

    assert store.settle_deliveries("dead", [Settled(d.id, "failed", error="late") for d in held]) == 0
    assert [r["status"] for r in store.deliveries(flow_id="storm")] == ["recorded", "recorded"]
    assert [r["attempts"] for r in store.deliveries(flow_id="storm")] == [2, 2]


def test_kinds_with_a_route_go_to_their_own_connector(coupons: Engine, store: Store, clock: SimClock) -> None:
    default, coupons_only = RecordingConnector(), RecordingConnector()
    Dispatcher(store, default, routes={"coupon": coupons_only}, clock=clock).drain()

    assert (len(default.received), len(coupons_only.received)) == (0, 2)


def test_threads_send_a_batch_at_once(coupons: Engine, store: Store, clock: SimClock) -> None:
    recording = RecordingConnector()
    dispatcher = Dispatcher(store, recording, clock=clock, threads=4)
    try:
        assert dispatcher.drain().recorded == 2
    finally:
        dispatcher.close()
    assert len(recording.received) == 2


def test_a_connector_says_what_became_of_each_delivery(
    coupons: Engine, store: Store, clock: SimClock
) -> None:
    class Mass:
        """Hands m-0's coupon over for a person to confirm, and skips m-1's (over its quota)."""

        name = "mass"

        def send(self, delivery: Delivery) -> Made:
            if delivery.member == "m-0":
                return awaiting_confirmation(f"msg-{delivery.member}")
            return skipped("quota")

    done = Dispatcher(store, Mass(), clock=clock).drain()
    assert (done.awaiting_confirmation, done.skipped, done.sent) == (1, 1, 0)
    rows = {r["member"]: r for r in store.deliveries(flow_id="storm")}
    assert (rows["m-0"]["status"], rows["m-1"]["status"], rows["m-1"]["reason"]) == (
        "awaiting_confirmation",
        "skipped",
        "quota",
    )

    # The confirmation arrives later, under the outside reference; a repeated one changes nothing.
    now = to_us(clock.now())
    assert store.confirm_deliveries(["msg-m-0", "msg-m-1"], "sent", now) == 1
    assert store.confirm_deliveries(["msg-m-0"], "failed", now, "not a friend") == 0
    assert {r["member"]: r["status"] for r in store.deliveries(flow_id="storm")} == {
        "m-0": "sent",
        "m-1": "skipped",
    }


def test_a_connector_that_returns_nonsense_fails_the_attempt(
    coupons: Engine, store: Store, clock: SimClock
) -> None:
    class Odd:
        name = "odd"

        def send(self, delivery: Delivery) -> object:
            return "ok"

    assert Dispatcher(store, Odd(), clock=clock).dispatch().retrying == 2  # type: ignore[arg-type]
    assert store.deliveries(flow_id="storm")[0]["error"] == "odd: send returned str"


class Batching:
    """Takes a whole batch at once; m-1's delivery fails, the others are sent. Polls are counted."""

    name = "batching"

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.polls: list[object] = []

    def send(self, delivery: Delivery) -> None:
        raise AssertionError("a batch connector is given the batch")

    def send_batch(self, deliveries: list[Delivery]) -> list[Made | None | DeliveryFailed]:
        self.batches.append([d.member or "" for d in deliveries])
        return [DeliveryFailed("refused", retryable=False) if d.member == "m-1" else None for d in deliveries]

    def poll(self, now: object) -> None:
        self.polls.append(now)
        raise RuntimeError("a poll that fails is logged, nothing more")


def test_a_batch_connector_takes_its_deliveries_in_one_call(
    coupons: Engine, store: Store, clock: SimClock
) -> None:
    batching = Batching()
    done = Dispatcher(store, RecordingConnector(), routes={"coupon": batching}, clock=clock).drain()

    assert batching.batches == [["m-0", "m-1"]]
    assert (done.sent, done.failed) == (1, 1)
    assert {r["member"]: r["status"] for r in store.deliveries(flow_id="storm")} == {
        "m-0": "sent",
        "m-1": "failed",
    }


def test_a_batch_answer_of_the_wrong_length_fails_the_attempts_retryably(
    coupons: Engine, store: Store, clock: SimClock
) -> None:
    class Short(Batching):
        def send_batch(self, deliveries: list[Delivery]) -> list[Made | None | DeliveryFailed]:
            return [None]

    done = Dispatcher(store, Short(), clock=clock).dispatch()
    assert (done.retrying, done.sent) == (2, 0)


def test_connectors_are_polled_every_interval_even_with_nothing_to_send(
    store: Store, clock: SimClock, caplog: pytest.LogCaptureFixture
) -> None:
    batching = Batching()
    dispatcher = Dispatcher(store, batching, clock=clock, poll_every=timedelta(seconds=10))

    for seconds in (0, 5, 10, 12, 25):
        dispatcher.dispatch(clock.now() + timedelta(seconds=seconds))

    start = clock.now()
    assert batching.polls == [start, start + timedelta(seconds=10), start + timedelta(seconds=25)]
    assert "failed to poll" in caplog.text


def test_kinds_a_connector_does_not_batch_go_one_by_one(
    coupons: Engine, store: Store, clock: SimClock
) -> None:
    class MessagesOnly(Batching):
        batch_kinds = frozenset({"message"})

        def send(self, delivery: Delivery) -> None:
            self.batches.append([f"one:{delivery.member}"])

    connector = MessagesOnly()
    assert Dispatcher(store, connector, clock=clock).drain().sent == 2
    assert sorted(connector.batches) == [["one:m-0"], ["one:m-1"]]


def test_a_fresh_welcome_goes_before_a_backlog_of_other_deliveries(store: Store, clock: SimClock) -> None:
    from wecom_kit import outbox, rows

    backlog = [outbox(store, clock, "message", {"text": "新品上架"}, f"m-{i}") for i in range(30)]
    clock.advance_to(clock.now() + timedelta(seconds=5))
    welcome = outbox(store, clock, "welcome", {"text": "欢迎", "welcome_code": "c1"}, "m-new", node="hi")

    result = Dispatcher(store, RecordingConnector(), clock=clock, batch_size=10).dispatch()

    found = rows(store)
    assert result.recorded == 10 and found[welcome]["status"] == "recorded"
    assert [found[i]["status"] for i in backlog[:9]] == ["recorded"] * 9  # the rest in their order
    assert {found[i]["status"] for i in backlog[9:]} == {"pending"}
