"""The worker inside `qunflow serve`: the engine's worker (:mod:`engine.worker`) on a thread beside the app.

It steps due runs, fires cron schedules and dispatches the outbox, sleeping until the next wake time
(at most `poll`, so work added by other processes is seen). The app wakes it early when it changes
something (:meth:`ServeWorker.poke`), and an unexpected error restarts it rather than ending it.

Beside it a *fast lane* sends only the urgent kinds (a WeCom welcome, whose code lasts 20 s) as soon
as the app pokes: a round of the main worker stepping a large broadcast does not hold them back.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import anyio

from qunflow.engine.outbox import open_dispatcher, owner_name
from qunflow.engine.store.write_turns import urgent_writes
from qunflow.engine.worker import Worker

from .services import Services

log = logging.getLogger("qunflow.worker")
# Welcomes wait on WeCom's answer, not on this process: many at once keep up with a burst of adds.
FAST_LANE_THREADS = 16


class ServeWorker:
    def __init__(self, services: Services, poll: timedelta = timedelta(seconds=1)) -> None:
        self.services = services
        self.poll = poll
        self._wake = threading.Event()
        owner = owner_name("worker")
        # The same dispatcher as `qunflow worker`'s: through the connectors admins configured.
        dispatcher = open_dispatcher(
            services.store,
            services.clock,
            settings=services.connectors,
            owner=owner,
            hooks=services.engine.hooks,
            ingest=lambda events: services.write(services.engine.ingest, events),
        )
        self.worker = Worker(services.engine, dispatcher, owner=owner, poll=poll, wait=self._sleep)
        self.fast = open_dispatcher(
            services.store,
            services.clock,
            settings=services.connectors,
            owner=owner + "-fast",
            hooks=services.engine.hooks,
            urgent_only=True,
            threads=FAST_LANE_THREADS,
        )
        self._fast_wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._fast_thread: threading.Thread | None = None

    def poke(self) -> None:
        """Look again now (safe from any thread)."""
        self._wake.set()
        self._fast_wake.set()

    def _fast_lane(self) -> None:
        with urgent_writes():  # its leases and outcomes go before a broadcast's writes (SQLite)
            self._fast_loop()

    def _fast_loop(self) -> None:
        while not self.worker.stop.is_set():
            self._fast_wake.wait(self.poll.total_seconds())
            self._fast_wake.clear()
            try:
                while not self.worker.stop.is_set() and self.fast.dispatch().leased:
                    pass
            except Exception:  # the main worker sends these too; log and go on
                log.exception("worker: the fast lane failed; trying again")

    def _sleep(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _run(self) -> None:
        while not self.worker.stop.is_set():
            try:
                self.worker.run()
            except Exception:  # a bug or a lasting database error: log it, pause, go on
                log.exception("worker: a round failed; starting again")
                self._sleep(self.poll.total_seconds())

    async def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="qunflow-worker", daemon=True)
        self._thread.start()
        self._fast_thread = threading.Thread(target=self._fast_lane, name="qunflow-fast-lane", daemon=True)
        self._fast_thread.start()
        self.services.on_change = self.poke

    def halt(self) -> None:
        """Stop after the round under way (safe from any thread and from a signal handler)."""
        self.worker.stop.set()
        self._wake.set()
        self._fast_wake.set()

    async def stop(self) -> None:
        self.services.on_change = lambda: None
        self.halt()
        for thread in (self._thread, self._fast_thread):
            if thread is not None:
                await anyio.to_thread.run_sync(thread.join)
        self._thread = self._fast_thread = None
        self.worker.dispatcher.close()
        self.fast.close()
