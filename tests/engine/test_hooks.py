"""Hooks (`engine.hooks`): no-ops by default, called after commit in reverse list order, with what
a batch did, each failed run and each delivery outcome; a failing hook is logged and contained."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from documents import event, flow, node

from qunflow.engine import Engine, Registry, SimClock, Store
from qunflow.engine.event import convert_events
from qunflow.engine.hooks import BatchDone, HookChain, Hooks, RunFailed
from qunflow.engine.outbox import Dispatcher
from qunflow.sdk import Config, Context, Outcome, action


class Recorder(Hooks):
    def __init__(self, name: str, calls: list[tuple[str, str, Any]]) -> None:
        self.name, self.calls = name, calls

    def after_batch(self, batch: BatchDone) -> None:
        self.calls.append((self.name, "after_batch", batch))

    def on_run_failed(self, failure: RunFailed) -> None:
        self.calls.append((self.name, "on_run_failed", failure))

    def after_delivery(self, delivery: Any, outcome: Any) -> None:
        self.calls.append((self.name, "after_delivery", (delivery, outcome)))


class Broken(Hooks):
    def after_batch(self, batch: BatchDone) -> None:
        raise RuntimeError("the analytics endpoint is down")

    def after_delivery(self, delivery: Any, outcome: Any) -> None:
        raise RuntimeError("the audit log is full")


class Nothing(Config):
    pass


@action("test.explode", title={"zh": "爆炸", "en": "Explode"})
def explode(ctx: Context, config: Nothing) -> Outcome:
    raise ValueError("no CRM today")


WELCOME = flow(
    "welcome",
    [
        node("joined", "trigger.member_joined"),
        node("tag", "action.add_tag", tags=["new"]),
        node("wait", "wait.delay", duration="P1D"),
        node("coupon", "action.send_coupon", coupon="c-1"),
    ],
    [("joined", "tag"), ("tag", "wait"), ("wait", "coupon")],
)


def joins(count: int, at: str = "2026-11-22T10:00:00+08:00") -> list[Any]:
    return convert_events(
        [event(f"e-{i}", "member_joined", at, member=f"m-{i}", group="g") for i in range(count)]
    )


def test_the_base_class_does_nothing() -> None:
    hooks = Hooks()
    done = BatchDone(at=datetime.now(UTC), events=0, runs={}, deliveries=0, counts={})
    assert hooks.after_batch(done) is None
    assert hooks.after_delivery(object(), object()) is None
    with pytest.raises(TypeError, match="not a qunflow.engine.hooks.Hooks"):
        HookChain([object()])  # type: ignore[list-item]


def test_after_batch_is_called_in_reverse_order_with_what_the_batch_did(
    store: Store, registry: Registry, clock: SimClock
) -> None:
    calls: list[tuple[str, str, Any]] = []
    engine = Engine(store, registry, clock, hooks=[Recorder("first", calls), Recorder("second", calls)])
    engine.deploy(WELCOME)
    engine.ingest(joins(3))
    assert [(who, what) for who, what, _ in calls] == [("second", "after_batch"), ("first", "after_batch")]
    done = calls[0][2]
    assert done is calls[1][2]
    assert done.events == 3 and done.runs == {"waiting": 3} and done.deliveries == 0
    assert done.counts[("welcome", "tag", "entered")] == 3 and done.failed == ()

    calls.clear()
    clock.advance_to(clock.now() + timedelta(days=1))
    assert engine.run_due() == 3
    resumed = [d for who, what, d in calls if who == "first"]
    assert len(resumed) == 1
    assert resumed[0].runs == {"done": 3} and resumed[0].deliveries == 3 and resumed[0].events == 0


def test_a_failed_run_is_reported_after_its_batch(store: Store, registry: Registry, clock: SimClock) -> None:
    registry.add(explode)
    calls: list[tuple[str, str, Any]] = []
    engine = Engine(store, registry, clock, hooks=[Recorder("audit", calls)])
    engine.deploy(
        flow(
            "crm",
            [node("joined", "trigger.member_joined"), node("boom", "test.explode")],
            [("joined", "boom")],
        )
    )
    engine.ingest(joins(1))
    assert [what for _, what, _ in calls] == ["after_batch", "on_run_failed"]
    failure = calls[1][2]
    assert isinstance(failure, RunFailed)
    assert (failure.flow, failure.node, failure.member) == ("crm", "boom", "m-0")
    assert failure.error == "boom: ValueError: no CRM today"
    assert failure.at == clock.now() and calls[0][2].failed == (failure,)
    assert calls[0][2].runs == {"failed": 1}


def test_a_failing_hook_is_logged_and_contained(
    store: Store, registry: Registry, clock: SimClock, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[str, str, Any]] = []
    # Reverse order: the recorder listed first is called after the broken hook, and still called.
    engine = Engine(store, registry, clock, hooks=[Recorder("after", calls), Broken()])
    engine.deploy(WELCOME)
    with caplog.at_level(logging.ERROR, logger="qunflow.hooks"):
        result = engine.ingest(joins(2))
    assert result.accepted == 2
    assert [who for who, _, _ in calls] == ["after"]
    assert "hook Broken.after_batch failed" in caplog.text and "analytics endpoint is down" in caplog.text
    assert store.journey_statuses()["welcome"]["waiting"] == 2  # the batch committed all the same


def test_after_delivery_hears_each_settled_outcome(
    store: Store, registry: Registry, clock: SimClock, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[str, str, Any]] = []
    engine = Engine(store, registry, clock)
    engine.deploy(WELCOME)
    engine.ingest(joins(2))
    clock.advance_to(clock.now() + timedelta(days=1))
    engine.run_due()
    dispatcher = Dispatcher(store, clock=clock, hooks=[Recorder("audit", calls), Broken()])
    with caplog.at_level(logging.ERROR, logger="qunflow.hooks"):
        sent = dispatcher.drain()
    # The recording connector keeps them (nothing left the server): settled as `recorded`.
    assert sent.recorded == 2
    heard = sorted((d.member, d.kind, o.status) for _, what, (d, o) in calls if what == "after_delivery")
    assert heard == [("m-0", "coupon", "recorded"), ("m-1", "coupon", "recorded")]
    assert "hook Broken.after_delivery failed" in caplog.text
    assert {d["status"] for d in store.deliveries()} == {"recorded"}


def test_a_cron_fire_is_a_batch_too(store: Store, registry: Registry, clock: SimClock) -> None:
    calls: list[tuple[str, str, Any]] = []
    engine = Engine(store, registry, clock, hooks=[Recorder("audit", calls)])
    engine.deploy(
        flow(
            "sop",
            [
                node("daily", "trigger.schedule", cron="0 11 * * *"),
                node("post", "action.send_message", text="早安", to="group", group="g-1"),
            ],
            [("daily", "post")],
        )
    )
    clock.advance_to(clock.now() + timedelta(hours=1))
    assert engine.run_due() == 1
    fired = [d for _, what, d in calls if what == "after_batch"]
    assert len(fired) == 1 and fired[0].runs == {"done": 1} and fired[0].deliveries == 1
