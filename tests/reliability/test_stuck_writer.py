"""SQLite with a writer that holds the write lock and does not let go (issue 13.1: a stuck worker).
Reads go on at once; a write that cannot get the lock is a 503 with a message, never a 500, and
stores nothing."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from documents import START, flow, node
from litestar.testing import TestClient

from qunflow.editor.api.errors import BUSY
from qunflow.editor.app import create_app
from qunflow.editor.services import Services
from qunflow.engine import Event, SimClock, Store
from qunflow.engine.errors import UserError

FLOW = flow(
    "f",
    [
        node("t", "trigger.event", event="go"),
        node("w", "wait.delay", duration="PT1H"),
        node("c", "action.send_coupon", coupon="c-1"),
    ],
    [("t", "w"), ("w", "c")],
)


@contextmanager
def stuck_writer(path: Path) -> Iterator[None]:
    """Another connection holds SQLite's write lock until the block ends."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("UPDATE members SET points = points")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    # A writer gives up on the lock after 0.2 s (the default is 30 s), to keep the test short.
    services = Services(Store.open(f"sqlite:///{tmp_path / 'q.db'}?timeout=0.2"), clock=SimClock(START))
    services.engine.deploy(FLOW)
    services.engine.ingest([Event(id="e-0", type="go", at=START, member="m-0")])
    yield services
    services.close()


def _timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_reads_do_not_wait_for_a_stuck_writer(services: Services, tmp_path: Path) -> None:
    store = services.store
    with stuck_writer(tmp_path / "q.db"):
        for read in (
            lambda: store.runs(flow_id="f"),
            lambda: store.delivery_page(),
            lambda: store.get_flow("f"),
            lambda: store.journey_statuses("f"),
            lambda: store.get_member("m-0"),
            store.next_wake,
        ):
            _, took = _timed(read)
            assert took < 5, f"a read waited {took:.2f}s for the writer"


def test_the_api_reads_and_answers_503_to_writes_while_the_lock_is_held(
    services: Services, tmp_path: Path
) -> None:
    token = services.accounts.create_token("admin", services.now_us())[1]
    auth = {"Authorization": f"Bearer {token}"}
    event = {"id": "e-1", "type": "go", "at": START.isoformat(), "member": "m-1"}
    with TestClient(create_app(services, worker=False)) as client:
        with stuck_writer(tmp_path / "q.db"):
            for path in ("/api/runs", "/api/deliveries", "/api/flows/f"):
                answer, took = _timed(lambda path=path: client.get(path, headers=auth))
                assert answer.status_code == 200, (path, answer.text)
                assert took < 5, f"GET {path} took {took:.2f}s"
            refused = client.post("/api/events", json=event, headers=auth)
            assert refused.status_code == 503, refused.text
            assert refused.json() == {"error": "unavailable", "message": BUSY}
            assert refused.headers["retry-after"] == "5"
            assert "数据库繁忙" in BUSY
        # Nothing of the refused request was stored: the same event is new now.
        assert [r["member"] for r in client.get("/api/runs", headers=auth).json()["items"]] == ["m-0"]
        accepted = client.post("/api/events", json=event, headers=auth)
        assert accepted.status_code == 202
        assert accepted.json() == {"accepted": 1, "duplicate": 0}


def test_the_url_sets_how_long_a_writer_waits_and_a_bad_value_is_refused(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'q.db'}?timeout=0.5")
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 500
    finally:
        store.close()
    for bad in ("abc", "1&timeout=2"):
        with pytest.raises(UserError, match="cannot use database URL"):
            Store(f"sqlite:///{tmp_path / 'q.db'}?timeout={bad}")
