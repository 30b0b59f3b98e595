"""The in-process worker: steps due runs when they are due, beside the web app.

It sleeps until the engine's next wake time (or at most `max_sleep`, so runs made due by another
process are seen too) and wakes early when the app changes something (:meth:`Worker.poke`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import anyio

from .services import Services

log = logging.getLogger("qunflow.worker")


class Worker:
    def __init__(self, services: Services, max_sleep: timedelta = timedelta(seconds=1)) -> None:
        self.services = services
        self.max_sleep = max_sleep.total_seconds()
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stepped = 0

    def poke(self) -> None:
        """Look again now (safe from any thread)."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.services.on_change = self.poke
        self._task = asyncio.create_task(self._run(), name="qunflow-worker")

    async def stop(self) -> None:
        self.services.on_change = lambda: None
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        engine = self.services.engine
        while True:
            assert self._wake is not None
            self._wake.clear()
            delay = self.max_sleep
            try:
                wake = await anyio.to_thread.run_sync(engine.next_wake)
                if wake is not None:
                    delay = min(delay, (wake - self.services.clock.now()).total_seconds())
                if delay <= 0:
                    self.stepped += await anyio.to_thread.run_sync(self.services.run_due)
                    continue
            except Exception:  # a failing database must not end the worker; try again later
                log.exception("worker: stepping due runs failed")
                delay = self.max_sleep
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass
