"""Write turns on SQLite (engine.store.write_turns): first come, first served, urgent ones first, so
a callback's ingest waits only for the transaction under way, never for a broadcast's next ones."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import text

from qunflow.engine import Store
from qunflow.engine.store.write_turns import WriteTurns, urgent_writes


def _queued(turns: WriteTurns, count: int) -> None:
    deadline = time.monotonic() + 10
    while turns.waiting() < count:
        assert time.monotonic() < deadline, "a thread never asked for its turn"
        time.sleep(0.001)  # waiting for the thread to queue, not measuring


def _writer(turns: WriteTurns, name: str, order: list[str], urgent: bool = False) -> threading.Thread:
    def write() -> None:
        if urgent:
            with urgent_writes(), turns.turn():
                order.append(name)
        else:
            with turns.turn():
                order.append(name)

    return threading.Thread(target=write, name=name)


def test_turns_go_in_the_order_asked_with_urgent_ones_first() -> None:
    turns = WriteTurns()
    order: list[str] = []
    threads = []
    asking = [("page-2", False), ("dispatch", False), ("callback", True), ("page-3", False)]
    asking.append(("welcome", True))
    with turns.turn():  # a broadcast's transaction under way
        for count, (name, urgent) in enumerate(asking, start=1):
            thread = _writer(turns, name, order, urgent)
            thread.start()
            threads.append(thread)
            _queued(turns, count)
    for thread in threads:
        thread.join(10)
    assert order == ["callback", "welcome", "page-2", "dispatch", "page-3"]


def test_a_thread_holding_its_turn_may_open_another_transaction() -> None:
    turns = WriteTurns()
    with turns.turn(), turns.turn():
        pass
    order: list[str] = []
    thread = _writer(turns, "next", order)
    thread.start()
    thread.join(10)
    assert order == ["next"]  # the nested turn gave the turn back whole


def test_urgency_ends_with_its_block() -> None:
    turns = WriteTurns()
    order: list[str] = []
    with urgent_writes():
        pass
    with turns.turn():
        first = _writer(turns, "first", order)
        first.start()
        _queued(turns, 1)
        later = _writer(turns, "later", order)  # not urgent: the block above ended
        later.start()
        _queued(turns, 2)
    first.join(10)
    later.join(10)
    assert order == ["first", "later"]


def test_an_urgent_transaction_on_sqlite_goes_before_the_waiting_ones(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'turns.db'}")
    order: list[str] = []

    def write(name: str, urgent: bool) -> None:
        def run() -> None:
            if urgent:
                with urgent_writes(), store.transaction() as conn:
                    conn.execute(text("SELECT 1"))
                    order.append(name)
            else:
                with store.transaction() as conn:
                    conn.execute(text("SELECT 1"))
                    order.append(name)

        thread = threading.Thread(target=run)
        thread.start()
        threads.append(thread)

    threads: list[threading.Thread] = []
    try:
        assert store._turns is not None
        with store.transaction():
            write("broadcast page", False)
            _queued(store._turns, 1)
            write("callback", True)
            _queued(store._turns, 2)
        for thread in threads:
            thread.join(10)
    finally:
        store.close()
    assert order == ["callback", "broadcast page"]


def test_postgresql_hands_out_no_turns(pg_url: str) -> None:
    store = Store(pg_url)
    try:
        assert store._turns is None  # its writers lock rows, not the database
    finally:
        store.close()
