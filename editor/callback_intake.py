"""Callbacks that arrive together are taken in together: one transaction for all of them (group
commit). WeCom may call hundreds of times a second; one ingest per callback would make each wait for
the others' transactions one by one, where one ingest of the waiting ones costs about as much as one.

Each request thread hands in its callback and waits. Whichever thread finds no batch under way takes
every callback waiting (up to :data:`MOST`) in one go and wakes the others; a thread whose callback
is still waiting then takes the next batch. Every callback is answered only once it is stored (or its
batch failed: then each of them fails, and WeCom calls again).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from qunflow.engine.connectors.wecom.callbacks import Callback

MOST = 500  # callbacks in one transaction


class _Waiting:
    __slots__ = ("callback", "done", "error")

    def __init__(self, callback: Callback) -> None:
        self.callback = callback
        self.done = False
        self.error: BaseException | None = None


class CallbackIntake:
    """Takes callbacks in with `take_all(callbacks)`, batching those that arrive together."""

    def __init__(self, take_all: Callable[[Sequence[Callback]], None]) -> None:
        self.take_all = take_all
        self._waiting: list[_Waiting] = []
        self._busy = False
        self._changed = threading.Condition()

    def take(self, callback: Callback) -> None:
        """Return once `callback` is stored; raise what storing its batch raised."""
        mine = _Waiting(callback)
        with self._changed:
            self._waiting.append(mine)
            while not mine.done:
                if self._busy:
                    self._changed.wait()
                    continue
                self._busy = True
                batch, self._waiting = self._waiting[:MOST], self._waiting[MOST:]
                self._changed.release()
                try:
                    self._store(batch)
                finally:
                    self._changed.acquire()
                    self._busy = False
                    self._changed.notify_all()
        if mine.error is not None:
            raise mine.error

    def _store(self, batch: list[_Waiting]) -> None:
        try:
            self.take_all([w.callback for w in batch])
        except BaseException as error:  # each request answers with its batch's failure
            for waiting in batch:
                waiting.error = error
        for waiting in batch:
            waiting.done = True


_intakes: weakref.WeakKeyDictionary[Any, CallbackIntake] = weakref.WeakKeyDictionary()
_made = threading.Lock()


def intake_for(owner: Any, take_all: Callable[[Sequence[Callback]], None]) -> CallbackIntake:
    """The one intake of `owner` (the app's services), made on first use."""
    with _made:
        intake = _intakes.get(owner)
        if intake is None:
            intake = _intakes[owner] = CallbackIntake(take_all)
        return intake


__all__ = ["MOST", "CallbackIntake", "intake_for"]
