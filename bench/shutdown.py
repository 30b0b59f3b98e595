"""Shutdown under load (DESIGN §21): `qunflow serve` and `qunflow worker` stop within 10 s of SIGTERM
whatever they are doing, and nothing acknowledged is lost.

For each load and each kind of process, in a fresh database: the load is set up, the processes are
started, and once they have made progress (a delivery written) every one of them gets SIGTERM at
the same moment; the seconds from the signal to each one's end are its figure. Then the rest of the
work is finished in this process, and the store is checked: every journey went through its steps
exactly once (one delivery per key and member, as many as the load asks), no run lease is left
held by a process that stopped cleanly, and, for `serve`, every event it acknowledged (202) while
it was stopping is stored.

Loads: `w`, N journeys of W due at once (a resume storm); `broadcast`, one broadcast to N members
walking its audience page by page (the first page stepped here, the rest by the processes);
`scaleout` (PostgreSQL only), the resume storm of `scaleout.py` with four processes: four workers,
or `serve` and three workers. While `serve` runs, two clients post events (200 a request) that it
must keep once acknowledged.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from qunflow.engine import Engine, RealClock, SimClock, Store, default_registry

from . import broadcast as b
from . import reference as w
from .fleet import delay_flow, qunflow_command, wait_until
from .measure import backend

LIMIT_S = 10.0
LOADS = ("w", "broadcast", "scaleout")
KINDS = ("serve", "worker")
POSTERS = 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """One `qunflow serve` or `qunflow worker`, its output in a log file."""

    def __init__(self, kind: str, url: str, logs: Path, slot: int) -> None:
        self.kind = kind
        self.port = _free_port() if kind == "serve" else None
        args = ["serve", "--port", str(self.port)] if kind == "serve" else ["worker", "--poll", "0.2"]
        self.log = logs / f"{kind}-{slot}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                # In the log folder: a PostgreSQL store's key file is made in the working directory.
                [*qunflow_command(), *args, "--db", url],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=logs,
            )

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.kind} ended at start:\n{self.output()}")
        if self.kind == "worker":
            return "qunflow worker " in self.output()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/login", timeout=1):
                return True
        except OSError:
            return False

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]


class Poster:
    """Clients posting events to `serve` in batches; what was acknowledged (202) is kept."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.acknowledged: list[str] = []
        self.refused: list[int] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._post, args=(i,), daemon=True) for i in range(POSTERS)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(20)

    def _post(self, client: int) -> None:
        batch = 0
        while not self._stop.is_set():
            ids = [f"ping-{client}-{batch}-{i}" for i in range(200)]
            batch += 1
            at = datetime.now(UTC).isoformat()
            body = json.dumps([{"id": i, "type": "bench_ping", "at": at, "member": i} for i in ids]).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{self.port}/api/events",
                method="POST",
                data=body,
                headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=15) as answer:
                    if answer.status == 202:
                        self.acknowledged.extend(ids)
            except urllib.error.HTTPError as error:
                self.refused.append(error.code)
            except OSError:
                return  # the server is gone: nothing more can be acknowledged


# -- loads: set up, progress, finish, check -----------------------------------------------------------


def _count(store: Store, sql: str, **values: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text(sql), values).scalar() or 0)


def _finish(store: Store, done: Any) -> None:
    """Step what the stopped processes left, on the real clock, until `done()`."""
    engine = Engine(store, default_registry(), RealClock())
    engine.flows.reload()
    deadline = time.monotonic() + 600
    while not done() and time.monotonic() < deadline:
        if not engine.run_due():
            time.sleep(0.05)


def setup_w(store: Store, members: int) -> None:
    """N journeys of W parked at T0; under the real clock (long after T0 + 1 day) all are due."""
    from .journey import EngineJourney

    journey = EngineJourney(members, store.url, store)
    journey.park()


def check_w(store: Store, members: int) -> list[str]:
    """Each member exactly one coupon and exactly one of invite / nudge (no chats here: nudges)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT member_id, SUM(CASE WHEN kind = 'coupon' THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN kind <> 'coupon' THEN 1 ELSE 0 END) FROM deliveries "
                "WHERE flow_id = :f GROUP BY member_id"
            ),
            {"f": w.FLOW_ID},
        ).all()
    problems = [f"{m}: {c} coupons, {o} other deliveries" for m, c, o in rows if (c, o) != (1, 1)]
    if len(rows) != members:
        problems.insert(0, f"{len(rows)} of {members} members got deliveries")
    return problems


def setup_broadcast(store: Store, members: int) -> None:
    """N members; the broadcast fired and its first page stepped on a simulated clock (long past), the
    flow then paused so that the real clock fires it no more; its run walks on under the processes."""
    b.store_members(members, store.url)
    clock = SimClock(b.BEFORE_FIRE)
    engine = Engine(store, default_registry(), clock)
    document = b.flow()
    # The real clock may fall in the quiet hours, which would hold the walk until morning.
    document["settings"].pop("quiet_hours")
    engine.deploy(document)
    engine.run_due()
    clock.advance_to(b.BEFORE_FIRE + timedelta(seconds=10))
    engine.run_due()
    engine.set_paused(b.FLOW, True)


def check_broadcast(store: Store, members: int) -> list[str]:
    found = b._deliveries(store, members)
    return [] if found["exactly_once"] else found["problems"] or ["not exactly once"]


def setup_scaleout(store: Store, members: int) -> None:
    """N journeys of `delay_flow` parked a day ago, due at once."""
    from .scaleout import park

    Engine(store).deploy(delay_flow(delay="P1D"))
    park(store, members, "storm")
    with store.transaction() as conn:
        conn.execute(
            text("UPDATE runs SET wake_at = :now, entered_at = :then WHERE status = 'waiting'"),
            {"now": 0, "then": -86_400_000_000},
        )


def check_scaleout(store: Store, members: int) -> list[str]:
    keys = _count(store, "SELECT count(*) FROM deliveries WHERE kind = 'coupon'")
    distinct = _count(store, "SELECT count(DISTINCT member_id) FROM deliveries WHERE kind = 'coupon'")
    stepped = store.node_counts("storm")["storm"]["wait"].get("port:next", 0)
    ok = keys == distinct == stepped == members
    return [] if ok else [f"{stepped} steps, {keys} coupons for {distinct} of {members} members"]


SETUP = {"w": setup_w, "broadcast": setup_broadcast, "scaleout": setup_scaleout}
CHECK = {"w": check_w, "broadcast": check_broadcast, "scaleout": check_scaleout}
# Deliveries the load has made once it is all done.
EXPECTED = {"w": lambda n: 2 * n, "broadcast": lambda n: n, "scaleout": lambda n: n}


def measure(load: str, kind: str, members: int, url: str, logs: Path) -> dict[str, Any]:
    """Set up `load`, run `kind` processes on it, SIGTERM them all once some deliveries are written;
    the seconds each took to end, and whether the work came out exactly once."""
    from qunflow.editor.accounts import Accounts

    store = Store.open(url)
    try:
        SETUP[load](store, members)
        before = _count(store, "SELECT count(*) FROM deliveries")
        kinds = [kind] if load != "scaleout" else [kind, "worker", "worker", "worker"]
        procs = [Process(k, url, logs, slot) for slot, k in enumerate(kinds)]
        poster = None
        try:
            if not wait_until(lambda: all(p.ready() for p in procs), timeout=60, step=0.05):
                raise RuntimeError(f"not ready in 60 s:\n{procs[0].output()}")
            if kind == "serve":
                token = Accounts(store).create_token("ingest", int(time.time() * 1e6))[1]
                poster = Poster(procs[0].port or 0, token)
                poster.start()
            expected = EXPECTED[load](members)

            def progressed() -> bool:
                made = _count(store, "SELECT count(*) FROM deliveries")
                return made > before or made >= expected

            wait_until(progressed, 120, 0.02)
            at_stop = _count(store, "SELECT count(*) FROM deliveries")
            started = time.monotonic()
            for p in procs:
                p.proc.send_signal(signal.SIGTERM)
            seconds, statuses = [], []
            for p in procs:
                try:
                    statuses.append(p.proc.wait(timeout=max(0.1, 30 - (time.monotonic() - started))))
                except subprocess.TimeoutExpired:
                    p.proc.kill()
                    p.proc.wait()
                    statuses.append(None)
                seconds.append(round(time.monotonic() - started, 2))
        finally:
            if poster is not None:
                poster.stop()
            for p in procs:
                if p.proc.poll() is None:
                    p.proc.kill()
                    p.proc.wait()
        leases_left = _count(store, "SELECT count(*) FROM runs WHERE lease_owner IS NOT NULL")
        _finish(store, lambda: _count(store, "SELECT count(*) FROM deliveries") >= expected)
        problems = CHECK[load](store, members)
        if leases_left:
            problems.append(f"{leases_left} run leases still held after a clean stop")
        result: dict[str, Any] = {
            "load": load,
            "kind": kind,
            "processes": kinds,
            "members": members,
            "deliveries_at_stop": at_stop - before,
            "deliveries_expected": expected,
            "stop_seconds": seconds,
            "exit_statuses": statuses,
            "within_10s": all(s < LIMIT_S for s in seconds) and all(s == 0 for s in statuses),
        }
        if poster is not None:
            stored = _count(store, "SELECT count(*) FROM events WHERE type = 'bench_ping'")
            ids = set(poster.acknowledged)
            with store.engine.connect() as conn:
                kept = {r[0] for r in conn.execute(text("SELECT id FROM events WHERE type = 'bench_ping'"))}
            lost = len(ids - kept)
            result["events_acknowledged"] = len(ids)
            result["events_stored"] = stored
            result["refused_statuses"] = sorted(set(poster.refused))
            if lost:
                problems.append(f"{lost} acknowledged events not stored")
        result["exactly_once"] = not problems
        result["problems"] = problems[:5]
        return result
    finally:
        store.close()


def loads_for(url: str | None) -> list[str]:
    """The loads a backend runs: `scaleout` needs several processes on one PostgreSQL database."""
    return [x for x in LOADS if x != "scaleout" or (url is not None and backend(url) == "postgresql")]


__all__ = ["KINDS", "LIMIT_S", "loads_for", "measure"]
