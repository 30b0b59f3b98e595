"""The restart matrix (issue 13): a real `qunflow serve` or `qunflow worker` is stopped (SIGTERM) or
killed (SIGKILL) while runs wait on an older flow version, on a paused flow, on an event with a
timeout, on a staff task; while it is down cron ticks are missed and deliveries are left pending.
Started again, it resumes each of them exactly once: the runs, the steps (node counters) and the
deliveries in the store say so. Waits are 3 s long; run with `pytest -s` for the figures."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from documents import flow, node
from fleet import wait_until
from processes import Serve, Worker
from sqlalchemy import text

from qunflow.editor.accounts import Accounts
from qunflow.engine import Engine, Event, SimClock, Store
from qunflow.engine.member import Member

WAIT = 3.0  # seconds every short wait lasts
LIMIT = 10.0  # seconds a SIGTERM stop may take

SHORT = f"PT{WAIT:g}S"


def coupon(node_id: str, name: str) -> dict[str, Any]:
    return node(node_id, "action.send_coupon", coupon=name)


def delayed(flow_id: str, name: str) -> dict[str, Any]:
    """start → wait 3 s → coupon `name`."""
    return flow(
        flow_id,
        [
            node("start", "trigger.event", event=flow_id),
            node("wait", "wait.delay", duration=SHORT),
            coupon("after", name),
        ],
        [("start", "wait"), ("wait", "after")],
    )


def replied(flow_id: str, timeout: str) -> dict[str, Any]:
    """start → wait for `reply` (until `timeout`) → one coupon for a reply, another for the timeout."""
    return flow(
        flow_id,
        [
            node("start", "trigger.event", event=flow_id),
            node("wait", "wait.for_event", event="reply", timeout=timeout),
            coupon("answered", f"{flow_id}-reply"),
            coupon("silent", f"{flow_id}-timeout"),
        ],
        [("start", "wait"), ("wait", "event", "answered"), ("wait", "timeout", "silent")],
    )


def tasked(flow_id: str, due: str | None) -> dict[str, Any]:
    """start → a staff task, waited for → a coupon per outcome."""
    config: dict[str, Any] = {"title": "回访", "wait": True, **({"due": due} if due else {})}
    nodes = [node("start", "trigger.event", event=flow_id), node("task", "action.assign_task", **config)]
    edges: list[Any] = [("start", "task")]
    for port in ("done", "skipped", *(("overdue",) if due else ())):
        nodes.append(coupon(port, f"{flow_id}-{port}"))
        edges.append(("task", port, port))
    return flow(flow_id, nodes, edges)


CRON = flow(
    "cron",
    [
        node("tick", "trigger.schedule", cron="* * * * *", audience={"tags_any": ["cron"]}),
        coupon("after", "cron"),
    ],
    [("tick", "after")],
)
LATER = flow(
    "later", [node("start", "trigger.event", event="later"), coupon("after", "later")], [("start", "after")]
)

# The members of each case, and the coupons each journey must end with (exactly these, once).
WAITING = {
    "older": ("m-older", ["older-v1"]),
    "paused": ("m-paused", ["paused"]),
    "reply_short": ("m-reply-short", ["reply_short-timeout"]),
    "reply_long": ("m-reply-long", ["reply_long-reply"]),
    "task_short": ("m-task-short", ["task_short-overdue"]),
    "task_long": ("m-task-long", ["task_long-done"]),
}


class Driver:
    """How the test acts while the process is up: through serve's API, or (beside a worker, which
    takes no events) through an engine of its own on the store."""

    def __init__(self, store: Store, serve: Serve | None) -> None:
        self.store = store
        self.serve = serve
        self.engine = Engine(store)

    def ingest(self, events: list[dict[str, Any]]) -> None:
        if self.serve is None:
            self.engine.ingest([Event(**{**e, "at": datetime.fromisoformat(e["at"])}) for e in events])
            return
        status, body = self.serve.call("POST", "/api/events", events)
        assert status == 202, body

    def republish(self, document: dict[str, Any]) -> None:
        if self.serve is None:
            self.engine.deploy(document)
            return
        assert self.serve.call("POST", "/api/flows", document)[0] == 200
        assert self.serve.call("POST", f"/api/flows/{document['id']}/publish")[0] == 200

    def pause(self, flow_id: str) -> None:
        if self.serve is None:
            self.engine.set_paused(flow_id, True)
            return
        assert self.serve.call("POST", f"/api/flows/{flow_id}/pause")[0] == 200


def event(event_id: str, kind: str, member: str, **data: Any) -> dict[str, Any]:
    return {"id": event_id, "type": kind, "at": datetime.now(UTC).isoformat(), "member": member, "data": data}


def coupons(store: Store) -> dict[str, list[str]]:
    """Coupons sent, by member, from the store's deliveries."""
    found: dict[str, list[str]] = {}
    for delivery in store.deliveries(kind="coupon", status="recorded"):
        found.setdefault(delivery["member"], []).append(delivery["payload"]["coupon"])
    return {member: sorted(names) for member, names in found.items()}


def resumed(store: Store) -> bool:
    """Whether every journey that was due while the process was down has ended with its coupon."""
    sent = coupons(store)
    due = [case for case in WAITING if not case.endswith("_long")]
    return (
        all(sent.get(WAITING[case][0]) == WAITING[case][1] for case in due)
        and sent.get("m-cron-1") == sent.get("m-cron-2") == ["cron"]
        and sent.get("m-later") == ["later"]
        and store.delivery_statuses().get("pending", 0) == 0
    )


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
@pytest.mark.parametrize("kind", ["serve", "worker"])
def test_each_waiting_run_resumes_exactly_once_after_a_restart(
    kind: str, stop: str, store_url: str, tmp_path: Path
) -> None:
    store = Store.open(store_url)
    engine = Engine(store)
    for case in ("older", "paused"):
        engine.deploy(delayed(case, case if case != "older" else "older-v1"))
    for case, timeout in (("reply_short", SHORT), ("reply_long", "PT1H")):
        engine.deploy(replied(case, timeout))
    for case, due in (("task_short", SHORT), ("task_long", None)):
        engine.deploy(tasked(case, due))
    engine.deploy(LATER)
    process: Serve | Worker
    if kind == "serve":
        process = Serve(store_url, tmp_path, Accounts(store).create_token("admin", 0)[1])
    else:
        process = Worker(store_url, tmp_path, "--lease", "2")
    driver = Driver(store, process if isinstance(process, Serve) else None)
    figures: dict[str, float] = {}
    try:
        process.start()
        began = time.monotonic()
        driver.ingest([event(f"start-{case}", case, member) for case, (member, _) in WAITING.items()])
        driver.republish(delayed("older", "older-v2"))  # the older run stays on version 1
        driver.pause("paused")
        # Every run waits now, and the staff tasks have gone out: nothing is in flight.
        assert wait_until(lambda: store.delivery_statuses() == {"recorded": 2}, 10), store.delivery_statuses()

        if stop == "sigterm":
            figures["stop"], status = process.stop(signal.SIGTERM)
            assert figures["stop"] < LIMIT and status == 0, process.output()
        else:
            process.kill()

        # While it is down: a step commits its delivery and nothing sends it (a process killed between
        # the two would leave the same), and a cron that fires every minute misses ten of its ticks.
        Engine(store).ingest([Event(id="start-later", type="later", at=datetime.now(UTC), member="m-later")])
        assert store.delivery_statuses().get("pending") == 1
        store.put_members([Member(id=f"m-cron-{i}", tags=["cron"]) for i in (1, 2)])
        Engine(store, clock=SimClock(datetime.now(UTC) - timedelta(minutes=10))).deploy(CRON)
        time.sleep(max(0.0, began + WAIT + 0.2 - time.monotonic()))

        figures["start"] = process.start()
        ready = time.monotonic()
        assert wait_until(lambda: resumed(store), 20, 0.05), (coupons(store), process.output())
        figures["resume"] = time.monotonic() - ready  # from ready to every due journey resumed

        # Events after the restart: the waiting runs take them once, however often they come.
        driver.ingest([event("reply-1", "reply", "m-reply-long"), event("reply-1", "reply", "m-reply-long")])
        driver.ingest([event("reply-2", "reply", "m-reply-long")])
        done = {"flow": "task_long", "node": "task", "outcome": "done"}
        driver.ingest([event("task-1", "task_completed", "m-task-long", **done)])
        driver.ingest([event("task-2", "task_completed", "m-task-long", **done)])
        assert wait_until(lambda: len(coupons(store).get("m-task-long", [])) > 0, 10)
        time.sleep(0.5)  # time enough for a second resume or a second send, were there one

        figures["final stop"], status = process.stop(signal.SIGTERM)
        assert figures["final stop"] < LIMIT and status == 0, process.output()
        assert_exactly_once(store)
        print(
            f"\nfigure restart matrix {kind} {stop} ({store.dialect}): "
            + ", ".join(f"{k} {v:.2f}s" for k, v in figures.items())
        )
    finally:
        process.close()
        store.close()


def assert_exactly_once(store: Store) -> None:
    sent = coupons(store)
    for case, (member, expected) in WAITING.items():
        assert sent.get(member) == expected, (case, sent)
    assert sent.get("m-cron-1") == sent.get("m-cron-2") == ["cron"], "one catch-up fire for the missed ticks"
    assert sent.get("m-later") == ["later"]
    runs = {(r.flow_id, r.member_id): r for r in store.runs(limit=1000)}
    assert len(runs) == len(WAITING) + 3, "no run started twice"
    assert {r.status for r in runs.values()} == {"done"}
    assert runs[("older", "m-older")].version == 1
    assert store.delivery_statuses() == {"recorded": len(WAITING) + 3 + 2}  # and the two staff tasks
    with store.engine.connect() as conn:
        rows, keys = conn.execute(text("SELECT count(*), count(DISTINCT key) FROM deliveries")).one()
    assert rows == keys
    counts = store.node_counts()
    for case in WAITING:
        entered = {
            n: c.get("entered", 0) for n, c in counts[case].items() if n not in ("start", "wait", "task")
        }
        assert sum(entered.values()) == 1, (case, entered)  # one step past the wait, on one port
    assert counts["cron"]["after"]["entered"] == 2
