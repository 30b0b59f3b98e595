"""A run on an older flow version, first met after a restart, is stepped without the engine waiting
for itself (issue 13.1): the version is read inside the batch's own transaction, where on SQLite a
second connection would wait for the write lock that transaction holds."""

from __future__ import annotations

import threading
from datetime import timedelta

from documents import START, flow, node

from qunflow.engine import Engine, Event, SimClock, Store

DELAY = flow(
    "f",
    [
        node("t", "trigger.event", event="go"),
        node("w", "wait.delay", duration="PT20S"),
        node("a", "action.add_tag", tags=["done"]),
    ],
    [("t", "w"), ("w", "a")],
)


def _stepped_within(work, seconds: float) -> tuple[bool, object]:
    """Run `work` on a thread; whether it ended within `seconds`, and what it returned or raised."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(work())
        except Exception as error:  # handed back to the test
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive(), outcome[0] if outcome else None


def test_a_run_on_an_older_version_resumes_after_a_restart(store_url: str) -> None:
    before = Store.open(store_url)
    clock = SimClock(START)
    engine = Engine(before, clock=clock)
    engine.deploy(DELAY)
    engine.ingest([Event(id="e1", type="go", at=START, member="m1")])
    engine.publish("f")  # version 2 is live; the run waits on version 1
    before.close()

    # A restart: a new process knows no compiled plan, only what the store holds.
    after = Store.open(store_url)
    try:
        restarted = Engine(after, clock=SimClock(START + timedelta(seconds=30)))
        done, result = _stepped_within(restarted.run_due, 10)
        assert done, "stepping the due run did not finish within 10 s (the engine waits for itself)"
        assert result == 1
        run = after.runs(flow_id="f")[0]
        assert (run.version, run.status) == (1, "done")
        assert after.get_member("m1").tags == ["done"]
    finally:
        after.close()


def test_a_paused_flow_s_run_resumes_after_a_restart(store_url: str) -> None:
    before = Store.open(store_url)
    engine = Engine(before, clock=SimClock(START))
    engine.deploy(DELAY)
    engine.ingest([Event(id="e1", type="go", at=START, member="m1")])
    engine.set_paused("f", True)  # no live plan: the waiting run's version is compiled on demand
    before.close()

    after = Store.open(store_url)
    try:
        restarted = Engine(after, clock=SimClock(START + timedelta(seconds=30)))
        done, result = _stepped_within(restarted.run_due, 10)
        assert done, "stepping the due run did not finish within 10 s (the engine waits for itself)"
        assert result == 1
        assert after.get_member("m1").tags == ["done"]
    finally:
        after.close()
