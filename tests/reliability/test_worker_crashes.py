"""Fault test: `qunflow worker` processes SIGKILLed at random moments while 10,000 journeys wait and
resume (DESIGN §14). Nothing may be lost, nothing stepped twice, no effect made twice; the runs a
dead worker held are taken over once its lease runs out. Run with `pytest -s` to see the figures."""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Any

from fleet import Figures, Fleet, Receiver, delay_flow, feed, signups, wait_until

from qunflow.engine import Engine, Store

JOURNEYS = 10_000
WORKERS = 3
LEASE = 2.0
POLL = 0.2


class TakeoverWatch:
    """Watches the runs a killed worker still held: how long until another worker stepped them."""

    def __init__(self, figures: Figures) -> None:
        self.figures = figures
        self.waiting: list[tuple[float, int, list[int], float]] = []
        self.seconds: list[float] = []  # from the kill to the takeover
        self.past_lease: list[float] = []  # from the end of the dead worker's lease to the takeover
        self.orphaned_runs = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def killed(self, pid: int, at: float) -> None:
        ids, until = self.figures.orphans(pid)
        if ids and until is not None:
            with self._lock:
                self.orphaned_runs += len(ids)
                self.waiting.append((at, pid, ids, until / 1e6))

    def _watch(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                waiting = list(self.waiting)
            for entry in waiting:
                killed_at, pid, ids, lease_end = entry
                if self.figures.still_leased(ids, pid) == 0:
                    with self._lock:
                        self.seconds.append(time.monotonic() - killed_at)
                        self.past_lease.append(time.time() - lease_end)
                        self.waiting.remove(entry)
            self._stop.wait(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def test_killed_workers_lose_nothing_and_repeat_nothing(pg_url: str, tmp_path: Any) -> None:
    store = Store.open(pg_url)
    engine = Engine(store)
    engine.deploy(delay_flow(delay="PT3S"))
    receiver = Receiver()
    fleet = Fleet(pg_url, tmp_path, receiver, lease=LEASE, poll=POLL)
    figures = Figures(store, "storm")
    watch = TakeoverWatch(figures)
    rng = random.Random(20261122)
    started = time.monotonic()

    def complete() -> bool:
        now = figures.snapshot()
        return now["journeys"].get("done", 0) == JOURNEYS and now["deliveries"].get("sent", 0) == JOURNEYS

    try:
        for slot in range(WORKERS):
            fleet.start(slot)
        feeder = feed(engine, signups(JOURNEYS), chunk=500, pause=0.25)
        deadline = started + 150
        while time.monotonic() < deadline and not complete():
            time.sleep(rng.uniform(0.5, 2.0))
            # Every other kill goes to a worker that holds leases right then, if one does, so that
            # some kills land between a lease and its step and the takeover is exercised.
            holders = figures.lease_holders() if rng.random() < 0.5 else set()
            slots = [s for s in fleet.alive() if fleet.procs[s].pid in holders]
            slot = rng.choice(slots) if slots else rng.randrange(WORKERS)
            pid = fleet.kill(slot)
            watch.killed(pid, time.monotonic())
            time.sleep(rng.uniform(0.0, 0.4))
            fleet.start(slot)
        feeder.join()
        finished = wait_until(complete, timeout=max(deadline - time.monotonic(), 5))
        elapsed = time.monotonic() - started
        wait_until(lambda: not watch.waiting, timeout=LEASE * 3)
    finally:
        watch.close()
        fleet.stop()
        receiver.close()

    now = figures.snapshot()
    keys = {d["key"] for d in store.deliveries(flow_id="storm")}
    per_member = receiver.effects_per_member()
    report = {
        "journeys": JOURNEYS,
        "workers": WORKERS,
        "kills": fleet.kills,
        "seconds": round(elapsed, 1),
        "runs": now["journeys"],
        "steps_after_wait": now["wait_left"],
        "coupon_node_entered": now["coupon_entered"],
        "deliveries": now["deliveries"],
        "receiver_requests": receiver.requests,
        "receiver_effects": len(receiver.effects),
        "receiver_redelivered_keys": len(receiver.redelivered),
        "receiver_duplicate_effects": sum(1 for n in per_member.values() if n > 1),
        "bad_signatures": receiver.bad_signatures,
        "receiver_aborted_requests": receiver.aborted,
        "orphaned_runs": watch.orphaned_runs,
        "takeovers": len(watch.seconds),
        "takeover_after_kill_max_seconds": round(max(watch.seconds, default=0.0), 2),
        "takeover_after_lease_end_max_seconds": round(max(watch.past_lease, default=0.0), 2),
        "lease_seconds": LEASE,
        "poll_seconds": POLL,
    }
    (tmp_path / "figures.json").write_text(json.dumps(report, indent=2))
    print("\nworker crash fault test:", json.dumps(report))
    assert finished, fleet.log_tail()
    assert fleet.kills >= 3
    # 0 runs lost:
    assert now["journeys"] == {"done": JOURNEYS, "waiting": 0, "active": 0, "exited": 0, "failed": 0}
    # 0 steps done twice: each counter moves once per step, in the step's transaction.
    assert now["wait_left"] == JOURNEYS
    assert now["coupon_entered"] == JOURNEYS
    assert now["deliveries"] == {"sent": JOURNEYS}
    # 0 duplicate effects, every effect made, every call signed:
    assert receiver.bad_signatures == 0
    assert set(receiver.effects) == keys and len(keys) == JOURNEYS
    assert len(per_member) == JOURNEYS and max(per_member.values()) == 1
    # Every run a dead worker held was taken over.
    assert not watch.waiting
