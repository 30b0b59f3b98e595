"""SIGTERM (and Ctrl-C) stop `qunflow serve` and `qunflow worker` within 10 s whatever they are doing
(issues 13.2 and 19.4): stepping a backlog of due runs, taking in events, or waiting for a SQLite
write lock that another process does not let go. Nothing acknowledged is lost: every event answered
202 is stored, and every run is stepped whole or not at all, then exactly once after a restart.
Run with `pytest -s` to see the figures."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fleet import delay_flow, wait_until
from processes import Serve, Worker
from sqlalchemy import text

from qunflow.editor.accounts import Accounts
from qunflow.engine import Engine, Event, SimClock, Store

LIMIT = 10.0  # seconds from SIGTERM to the end of the process (DESIGN §21)
BACKLOG = 5_000


@pytest.fixture
def db(store_url: str) -> Iterator[Store]:
    store = Store.open(store_url)
    yield store
    store.close()


def seed_backlog(store: Store, journeys: int, due_in: timedelta = timedelta(0)) -> None:
    """`journeys` journeys waiting on `wait`, due `due_in` from now (at once by default)."""
    now = datetime.now(UTC)
    clock = SimClock(now - timedelta(seconds=3) + due_in)
    engine = Engine(store, clock=clock)
    engine.deploy(delay_flow("storm", "PT3S"))
    events = [Event(id=f"e-{i}", type="signup", at=clock.now(), member=f"m-{i}") for i in range(journeys)]
    engine.ingest(events)


def outcome(store: Store) -> dict[str, Any]:
    """How the backlog stands: journeys by status, steps past the wait, deliveries by status."""
    counts = store.node_counts("storm").get("storm", {})
    with store.engine.connect() as conn:
        keys, distinct = conn.execute(text("SELECT count(*), count(DISTINCT key) FROM deliveries")).one()
    return {
        "journeys": {k: n for k, n in store.journey_statuses("storm").get("storm", {}).items() if n},
        "coupon_entered": counts.get("coupon", {}).get("entered", 0),
        "deliveries": store.delivery_statuses(),
        "delivery_rows": keys,
        "delivery_keys": distinct,
    }


def assert_whole(state: dict[str, Any], journeys: int) -> None:
    """Each journey either still waits or went past the wait once with its one delivery."""
    done = state["journeys"].get("done", 0)
    assert done + state["journeys"].get("waiting", 0) == journeys, state
    assert state["coupon_entered"] == done, state
    assert state["delivery_rows"] == state["delivery_keys"] == done, state


def report(name: str, **figures: Any) -> None:
    print(
        f"\nfigure {name}: "
        + ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
    )


def admin_token(store: Store) -> str:
    return Accounts(store).create_token("admin", int(time.time() * 1e6))[1]


def make(kind: str, store: Store, tmp_path: Path) -> Serve | Worker:
    if kind == "serve":
        return Serve(store.url, tmp_path, admin_token(store))
    return Worker(store.url, tmp_path, "--lease", "5")


@pytest.mark.parametrize("kind", ["serve", "worker"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_stop_while_stepping_a_backlog_is_quick_and_loses_nothing(
    kind: str, signum: int, db: Store, tmp_path: Path
) -> None:
    seed_backlog(db, BACKLOG)
    process = make(kind, db, tmp_path)
    try:
        process.start()
        assert wait_until(lambda: outcome(db)["coupon_entered"] > 0, 30, 0.02), process.output()
        took, status = process.stop(signum)
        state = outcome(db)
        report(
            f"{kind} {signal.Signals(signum).name} while stepping ({db.dialect})",
            seconds=took,
            status=status,
            done=state["journeys"].get("done", 0),
        )
        assert took < LIMIT and status == 0, (took, status, process.output())
        assert_whole(state, BACKLOG)
        with db.engine.connect() as conn:
            held = conn.execute(text("SELECT count(*) FROM runs WHERE lease_owner IS NOT NULL")).scalar()
        assert held == 0, "a clean stop gives its leases back"

        process.start()
        assert wait_until(lambda: outcome(db)["deliveries"] == {"recorded": BACKLOG}, 60), outcome(db)
        assert_whole(outcome(db), BACKLOG)
        assert outcome(db)["journeys"] == {"done": BACKLOG}
    finally:
        process.close()


def test_serve_stops_quickly_while_taking_in_events_and_keeps_every_acknowledged_one(
    db: Store, tmp_path: Path
) -> None:
    engine = Engine(db)
    engine.deploy(delay_flow("storm", "PT1H"))
    serve = Serve(db.url, tmp_path, admin_token(db))
    acknowledged: list[str] = []
    refused: list[int] = []
    stop = threading.Event()

    def post() -> None:
        batch = 0
        while not stop.is_set():
            ids = [f"b{batch}-{i}" for i in range(200)]
            body = [
                {"id": i, "type": "signup", "at": datetime.now(UTC).isoformat(), "member": i} for i in ids
            ]
            batch += 1
            try:
                status, _ = serve.call("POST", "/api/events", body, timeout=15)
            except OSError:
                return  # the server went away mid-request: not acknowledged
            if status == 202:
                acknowledged.extend(ids)
            else:
                refused.append(status)

    try:
        serve.start()
        posters = [threading.Thread(target=post, daemon=True) for _ in range(3)]
        for poster in posters:
            poster.start()
        assert wait_until(lambda: len(acknowledged) >= 2000, 30, 0.02)
        took, status = serve.stop()
        stop.set()
        for poster in posters:
            poster.join(20)
        report(
            f"serve SIGTERM while taking in events ({db.dialect})",
            seconds=took,
            status=status,
            acknowledged=len(acknowledged),
        )
        assert took < LIMIT and status == 0, (took, status, serve.output())
        assert set(refused) <= {503}, refused
        with db.engine.connect() as conn:
            stored = {row[0] for row in conn.execute(text("SELECT id FROM events"))}
            runs = conn.execute(text("SELECT count(*) FROM runs")).scalar()
        assert set(acknowledged) <= stored
        assert runs == len(stored), "each stored event started its run in the same transaction"
    finally:
        stop.set()
        serve.close()


class HeldLock:
    """Another process's writer that holds what the engine needs and does not let go: SQLite's write
    lock, or on PostgreSQL the row of every member."""

    def __init__(self, store: Store) -> None:
        if store.dialect == "sqlite":
            self.raw = sqlite3.connect(store.url.removeprefix("sqlite:///"), isolation_level=None)
            self.raw.execute("BEGIN IMMEDIATE")
            self.raw.execute("UPDATE runs SET due_seq = due_seq")
        else:
            self.conn = store.engine.connect()
            self.conn.execute(text("SELECT id FROM members ORDER BY id FOR UPDATE")).all()
        self.dialect = store.dialect
        self.held = True

    def release(self) -> None:
        if self.held:
            if self.dialect == "sqlite":
                self.raw.execute("ROLLBACK")
                self.raw.close()
            else:
                self.conn.rollback()
                self.conn.close()
            self.held = False


@pytest.mark.parametrize("kind", ["serve", "worker"])
def test_a_stop_while_waiting_for_a_lock_another_process_holds_is_quick(
    kind: str, db: Store, tmp_path: Path
) -> None:
    journeys = 500
    seed_backlog(db, journeys, due_in=timedelta(seconds=3))
    process = make(kind, db, tmp_path)
    lock: HeldLock | None = None
    try:
        process.start()
        lock = HeldLock(db)
        blocked: list[Any] = []
        if isinstance(process, Serve):  # a request that waits for the lock as well
            event = {"id": "late", "type": "signup", "at": datetime.now(UTC).isoformat(), "member": "m-1"}
            call = process.call
            threading.Thread(target=lambda: blocked.append(_try(call, "POST", "/api/events", event))).start()
        time.sleep(4)  # the backlog is due: the worker waits for the lock
        took, status = process.stop()
        report(
            f"{kind} SIGTERM waiting for a held lock ({db.dialect})",
            seconds=took,
            status=status,
            request=blocked,
        )
        assert took < LIMIT and status is not None, (took, status, process.output())
        if isinstance(process, Serve):
            assert wait_until(lambda: bool(blocked), 5)
            assert isinstance(blocked[0], OSError) or blocked[0][0] == 503, blocked  # never a 500
        lock.release()
        assert_whole(outcome(db), journeys)

        process.start()
        # On PostgreSQL the killed process may have leased runs: they wait for the lease to end.
        assert wait_until(lambda: outcome(db)["deliveries"] == {"recorded": journeys}, 45), outcome(db)
        assert_whole(outcome(db), journeys)
    finally:
        if lock is not None:
            lock.release()
        process.close()


def _try(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except OSError as error:
        return error
