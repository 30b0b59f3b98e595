"""Running a transaction again when the database says trying again could help.

Concurrent batches on PostgreSQL can meet in a deadlock or a serialization failure (one of them is
rolled back), two ingesters can insert the same new event or member at once (a unique violation in
the one that commits second), and a database restart breaks every open connection. In each case the
whole transaction has rolled back, nothing of it is stored, and running it again from the start is
safe. Once the process is stopping (:mod:`engine.shutdown`), a failed transaction is not run again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

from ..shutdown import STOPPING

T = TypeVar("T")
log = logging.getLogger("qunflow.store")

# serialization_failure, deadlock_detected; and the classes "connection exception" and "operator
# intervention" (the server shutting down or restarting).
_RETRY_STATES = ("40001", "40P01")
_RETRY_CLASSES = ("08", "57")
_UNIQUE = "23505"


def is_transient(error: BaseException, conflicts: bool = False) -> bool:
    """Whether running the failed transaction again could succeed. `conflicts`: a unique violation
    counts too (the caller's transaction reads what is already stored and skips it). Takes
    SQLAlchemy's errors and the driver's own (the bulk writes call the driver directly)."""
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        cause: BaseException | None = error.orig
    else:
        cause = error
    if cause is None:
        return False
    kind = type(cause).__name__
    state = getattr(cause, "sqlstate", None)
    if state:
        return state in _RETRY_STATES or state[:2] in _RETRY_CLASSES or (conflicts and state == _UNIQUE)
    if conflicts and (kind == "IntegrityError" or kind == "UniqueViolation"):
        return True
    # SQLite ("database is locked"), a lost connection, drivers without SQLSTATE.
    return kind == "OperationalError" or isinstance(error, OperationalError)


def retrying(
    work: Callable[[], T],
    attempts: int = 6,
    conflicts: bool = False,
    pause: float = 0.05,
    sleep: Callable[[float], object] | None = None,
    stop: threading.Event = STOPPING,
) -> T:
    """Call `work` (one whole transaction) until it succeeds, at most `attempts` times, pausing a
    little longer after each transient failure; any other error, or the last one, is raised. Once
    `stop` is set (by default: the process is stopping) the pause ends at once and the error that
    ended the last attempt is raised: nothing of it was stored."""
    wait = sleep or stop.wait
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except Exception as error:
            if attempt == attempts or not is_transient(error, conflicts) or stop.is_set():
                raise
            # A conflict between ingesters is expected; anything else is worth seeing in the log.
            level = logging.WARNING if is_transient(error) else logging.INFO
            log.log(
                level,
                "transaction failed (%s), attempt %d of %d; trying again",
                _short(error),
                attempt,
                attempts,
            )
            wait(pause * 2 ** (attempt - 1))
            if stop.is_set():
                raise
    raise AssertionError("unreachable")


def _short(error: BaseException) -> str:
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    return (str(cause).splitlines() or [type(cause).__name__])[0]
