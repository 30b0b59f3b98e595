"""Stopping a long-running process (`qunflow serve`, `qunflow worker`) on SIGTERM or Ctrl-C, within
a bound, losing nothing that was acknowledged.

A stop is asked for once (:func:`begin`). From then on a failed transaction is not tried again
(:mod:`engine.store.retry`), sleeping loops wake, and the work under way finishes its transaction.
Work that cannot finish in time (a step batch that takes long, a SQLite write lock that does not
come, a slow outbound call) is abandoned: if the process still runs `GRACE` seconds after the stop
was asked for, it ends there. The database then rolls back the unfinished transaction, and the
next start takes up what it held (a lease runs out, a run is still due). Nothing acknowledged is
lost that way: an event is acknowledged (202) only once committed, and a run moves only by a commit.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

# Set once the process is stopping.
STOPPING = threading.Event()
# Seconds between the stop and the end of the process, at the latest (the promise is 10 s).
GRACE = 8.0
# The exit status of a process that had to be ended before its work finished.
ABANDONED = 1


def begin(grace: float = GRACE) -> None:
    """Ask the process to stop; it ends `grace` seconds from now at the latest. Safe to call from a
    signal handler, and more than once (the first call counts)."""
    if STOPPING.is_set():
        return
    STOPPING.set()
    deadline = threading.Timer(grace, _abandon, args=(grace,))
    deadline.daemon = True
    deadline.name = "qunflow-stop-deadline"
    deadline.start()


def _abandon(grace: float) -> None:
    print(
        f"qunflow: not stopped within {grace:g} s; ending now, the unfinished transaction is rolled back "
        f"(未能在 {grace:g} 秒内停止，现在结束；未完成的事务将回滚)",
        file=sys.stderr,
        flush=True,
    )
    os._exit(ABANDONED)


def on_signals(stop: Callable[[], None]) -> None:
    """SIGTERM and SIGINT (Ctrl-C) begin the stop and call `stop` (which must return at once)."""

    def handle(signum: int, _: FrameType | None) -> None:
        begin()
        stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handle)


def run_beside_signals(work: Callable[[], None], name: str) -> None:
    """Run `work` on a thread of its own and wait for it. Python runs signal handlers on the main
    thread, and only between its own steps: a main thread inside a long database call (SQLite waiting
    for its write lock) would hear SIGTERM only when the call returns. Waiting here, it hears it at
    once. An exception of `work` is raised here."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # handed to the main thread
            failures.append(error)

    thread = threading.Thread(target=run, name=name)
    thread.start()
    while thread.is_alive():
        thread.join(0.5)
    if failures:
        raise failures[0]


__all__ = ["GRACE", "STOPPING", "begin", "on_signals", "run_beside_signals"]
