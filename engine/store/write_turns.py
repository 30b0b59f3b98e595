"""Whose turn it is to write, among the threads of one process, on SQLite.

SQLite has one writer at a time. Left to itself, a writer that finds the lock taken sleeps and tries
again (its busy handler sleeps up to 100 ms a try), while the thread that just committed can take the
lock straight back: a worker stepping a large broadcast, transaction after transaction, can keep a
WeCom callback waiting for seconds, past the welcome code's 20 s. So the store hands out write turns
itself, in the order they were asked for, urgent ones first: the callback intake and the welcome fast
lane mark their threads urgent (:func:`urgent_writes`), and wait only for the transaction under way.

A thread that holds a turn and opens another transaction keeps it (turns nest). PostgreSQL needs none
of this: its writers lock rows, not the database.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_urgent = threading.local()


@contextmanager
def urgent_writes() -> Iterator[None]:
    """Within this block, this thread's write transactions go before the others waiting."""
    before = getattr(_urgent, "on", False)
    _urgent.on = True
    try:
        yield
    finally:
        _urgent.on = before


class WriteTurns:
    """Write turns for the threads of a process: first come, first served; urgent ones first."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._holder: int | None = None
        self._depth = 0
        self._queue: list[tuple[int, int, int]] = []  # (0 urgent / 1 not, ticket, thread)
        self._tickets = itertools.count()

    def waiting(self) -> int:
        """How many threads wait for a turn."""
        with self._changed:
            return len(self._queue)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for this thread's turn to write; hold it for the block."""
        me = threading.get_ident()
        with self._changed:
            if self._holder == me:
                self._depth += 1
            else:
                place = (0 if getattr(_urgent, "on", False) else 1, next(self._tickets), me)
                heapq.heappush(self._queue, place)
                try:
                    while self._holder is not None or self._queue[0] is not place:
                        self._changed.wait()
                except BaseException:  # interrupted while waiting: give the place up
                    self._queue.remove(place)
                    heapq.heapify(self._queue)
                    self._changed.notify_all()
                    raise
                heapq.heappop(self._queue)
                self._holder, self._depth = me, 1
        try:
            yield
        finally:
            with self._changed:
                self._depth -= 1
                if self._depth == 0:
                    self._holder = None
                    self._changed.notify_all()


__all__ = ["WriteTurns", "urgent_writes"]
