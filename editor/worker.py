"""The worker inside `qunflow serve`: the engine's worker (:mod:`engine.worker`) on a thread beside the app.

It steps due runs, fires cron schedules and dispatches the outbox, sleeping until the next wake time
(at most `poll`, so work added by other processes is seen). The app wakes it early when it changes
something (:meth:`ServeWorker.poke`), and an unexpected error restarts it rather than ending it.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import anyio

from qunflow.engine.outbox import open_dispatcher, owner_name
from qunflow.engine.worker import Worker

from .services import Services

log = logging.getLogger("qunflow.worker")


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
        self._thread: threading.Thread | None = None

    def poke(self) -> None:
        """Look again now (safe from any thread)."""
        self._wake.set()

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
        self.services.on_change = self.poke

    def halt(self) -> None:
        """Stop after the round under way (safe from any thread and from a signal handler)."""
        self.worker.stop.set()
        self._wake.set()

    async def stop(self) -> None:
        self.services.on_change = lambda: None
        self.halt()
        if self._thread is not None:
            await anyio.to_thread.run_sync(self._thread.join)
            self._thread = None
        self.worker.dispatcher.close()
