"""Which database failures a batch transaction is run again for."""

from __future__ import annotations

import sqlite3
import threading
import time

import psycopg
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from qunflow.engine.store.retry import is_transient, retrying


def test_deadlocks_lost_connections_and_locked_files_are_transient() -> None:
    assert is_transient(psycopg.errors.DeadlockDetected("deadlock detected"))
    assert is_transient(psycopg.errors.SerializationFailure("could not serialize"))
    assert is_transient(psycopg.errors.AdminShutdown("terminating connection"))
    assert is_transient(OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked")))


def test_a_unique_violation_is_transient_only_where_the_work_skips_what_is_stored() -> None:
    raw = psycopg.errors.UniqueViolation("duplicate key value violates unique constraint")
    wrapped = IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed: events.id"))

    assert not is_transient(raw) and not is_transient(wrapped)
    assert is_transient(raw, conflicts=True) and is_transient(wrapped, conflicts=True)


def test_mistakes_are_not_transient() -> None:
    assert not is_transient(psycopg.errors.UndefinedTable("no such table"), conflicts=True)
    assert not is_transient(ProgrammingError("SELECT", {}, sqlite3.ProgrammingError("bad")))
    assert not is_transient(ValueError("not a database error"))


def test_retrying_runs_the_work_again_until_it_succeeds_or_gives_up() -> None:
    calls: list[int] = []
    pauses: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise psycopg.errors.DeadlockDetected("deadlock detected")
        return "done"

    assert retrying(flaky, sleep=pauses.append) == "done"
    assert pauses == [0.05, 0.1]

    def always() -> None:
        raise psycopg.errors.DeadlockDetected("deadlock detected")

    with pytest.raises(psycopg.errors.DeadlockDetected):
        retrying(always, attempts=2, sleep=pauses.append)


def test_a_stop_cuts_the_pause_short_and_starts_no_further_attempt() -> None:
    stop = threading.Event()
    calls: list[float] = []

    def locked() -> None:
        calls.append(time.monotonic())
        raise OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))

    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    with pytest.raises(OperationalError):
        retrying(locked, pause=30, stop=stop)  # the first pause would be 30 s
    assert len(calls) == 1
    assert time.monotonic() - started < 5

    with pytest.raises(OperationalError):
        retrying(locked, stop=stop)  # stopping already: the failed attempt is the last
    assert len(calls) == 2
