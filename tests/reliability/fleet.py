"""A fleet for fault tests: `qunflow worker` processes on one PostgreSQL store (`qunflow.bench.fleet`,
shared with the scale-out bench), a webhook receiver on 127.0.0.1 that counts effects by idempotency
key, and what the tests measure with them."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import text

from qunflow.bench.fleet import (  # noqa: F401 - the tests import the fleet from here
    SECRET,
    Fleet,
    delay_flow,
    qunflow_command,
    route_to_receiver,
    wait_until,
)
from qunflow.engine import Engine, Event, Store
from qunflow.engine.connectors import KEY_HEADER, SIGNATURE_HEADER, verify


def signups(count: int, prefix: str = "e") -> list[Event]:
    now = datetime.now(UTC)
    return [Event(id=f"{prefix}-{i}", type="signup", at=now, member=f"m-{i}") for i in range(count)]


class Receiver:
    """An HTTP endpoint that makes each delivery's effect once per idempotency key."""

    def __init__(self) -> None:
        self.requests = 0
        self.bad_signatures = 0
        self.aborted = 0  # requests cut off by a killed worker
        self.effects: dict[str, dict[str, Any]] = {}
        self.redelivered: Counter[str] = Counter()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    with receiver._lock:
                        receiver.aborted += 1
                    return
                receiver._take(body, self.headers.get(KEY_HEADER), self.headers.get(SIGNATURE_HEADER))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/effects"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _take(self, body: bytes, key: str | None, signature: str | None) -> None:
        with self._lock:
            self.requests += 1
            if key is None or not verify(SECRET.encode(), body, signature):
                self.bad_signatures += 1
                return
            if key in self.effects:
                self.redelivered[key] += 1
                return
            self.effects[key] = json.loads(body)

    def effects_per_member(self) -> Counter[str]:
        with self._lock:
            return Counter(e["member"] for e in self.effects.values())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Figures:
    """What a fault test reads back from the store."""

    def __init__(self, store: Store, flow_id: str) -> None:
        self.store = store
        self.flow_id = flow_id

    def snapshot(self) -> dict[str, Any]:
        statuses = self.store.journey_statuses(self.flow_id).get(self.flow_id, {})
        counts = self.store.node_counts(self.flow_id).get(self.flow_id, {})
        return {
            "journeys": statuses,
            "wait_left": counts.get("wait", {}).get("port:next", 0),
            "coupon_entered": counts.get("coupon", {}).get("entered", 0),
            "deliveries": self.store.delivery_statuses(),
        }

    def orphans(self, pid: int) -> tuple[list[int], int | None]:
        """Runs still leased by the worker process `pid` (a killed one), and when the leases end."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id, lease_until FROM runs WHERE lease_owner LIKE :owner"),
                {"owner": f"worker:%:{pid}:%"},
            ).all()
        return [r[0] for r in rows], max((r[1] for r in rows), default=None)

    def lease_holders(self) -> set[int]:
        """Process ids of the workers holding run leases now."""
        with self.store.engine.connect() as conn:
            owners = conn.execute(text("SELECT DISTINCT lease_owner FROM runs WHERE lease_owner IS NOT NULL"))
            return {int(owner.split(":")[2]) for (owner,) in owners}

    def still_leased(self, ids: list[int], pid: int) -> int:
        if not ids:
            return 0
        with self.store.engine.connect() as conn:
            return conn.execute(
                text("SELECT count(*) FROM runs WHERE id = ANY(:ids) AND lease_owner LIKE :owner"),
                {"ids": ids, "owner": f"worker:%:{pid}:%"},
            ).scalar_one()


def feed(engine: Engine, events: list[Event], chunk: int, pause: float) -> threading.Thread:
    """Ingest `events` in chunks from a thread, pausing between chunks (journeys keep arriving)."""

    def run() -> None:
        for start in range(0, len(events), chunk):
            engine.ingest(events[start : start + chunk])
            time.sleep(pause)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
