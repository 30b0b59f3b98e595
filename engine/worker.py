"""A worker: leases due runs, steps them, fires cron schedules, dispatches the outbox, sleeps.

Several workers (`qunflow worker` processes, beside `qunflow serve`) share one PostgreSQL store.
Each round leases one batch of due runs (see :mod:`engine.store.leases`), steps it and commits, fires
the cron schedules that are due, sends one batch of the outbox, and resumes the runs waiting for
deliveries that have settled (:mod:`engine.settlements`). When a round finds nothing to do,
the worker sleeps until the next wake time it knows of, by the injected clock, but never longer than
`poll` (other processes add work it cannot see coming). A database that goes away is waited for;
the worker carries on when it is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import msgspec
from sqlalchemy.exc import DBAPIError

from .engine import Engine
from .outbox import Dispatcher, DispatchResult, owner_name
from .store.retry import is_transient

log = logging.getLogger("qunflow.worker")


class Round(msgspec.Struct):
    """What one round of a worker did."""

    leased: int = 0
    stepped: int = 0
    fired: int = 0
    dispatch: DispatchResult = msgspec.field(default_factory=DispatchResult)
    # Settled deliveries whose waiting runs were told (engine.settlements).
    settled: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.leased or self.fired or self.dispatch.leased or self.settled)


class Worker:
    """Drives an engine and a dispatcher; `run` loops until `stop` is set."""

    def __init__(
        self,
        engine: Engine,
        dispatcher: Dispatcher | None = None,
        *,
        owner: str | None = None,
        lease: timedelta = timedelta(seconds=30),
        poll: timedelta = timedelta(seconds=1),
        reload_every: timedelta = timedelta(seconds=10),
        wait: Callable[[float], object] | None = None,
    ) -> None:
        self.engine = engine
        self.owner = owner or owner_name("worker")
        self.dispatcher = dispatcher or Dispatcher(
            engine.store, clock=engine.clock, owner=self.owner, hooks=engine.hooks
        )
        self.lease = lease
        self.poll = poll
        self.reload_every = reload_every
        self.stop = threading.Event()
        # How the loop sleeps: by default on the stop event, so `stop.set()` wakes it at once.
        self._wait = wait or self.stop.wait
        self._reloaded = time.monotonic()

    def round(self, now: datetime | None = None) -> Round:
        """One round at `now` (default: the clock's now)."""
        moment = now or self.engine.clock.now()
        leased = self.engine.step_leased(self.owner, self.lease, moment)
        fired = self.engine.fire_schedules(moment)
        dispatched = self.dispatcher.dispatch(moment)
        # After the dispatch: what it just settled resumes its runs in the same round. Settlements
        # made elsewhere (a connector's confirmations) are seen here too.
        settled = self.engine.resume_settled(moment if now is not None else None)
        return Round(leased.leased, leased.stepped, fired, dispatched, settled)

    def next_wake(self) -> datetime | None:
        """The earliest moment a run wakes, a schedule fires or a delivery is due."""
        moments = [m for m in (self.engine.next_wake(), self.dispatcher.next_attempt()) if m is not None]
        return min(moments) if moments else None

    def pause(self) -> float:
        """Seconds to sleep after an idle round: until the next wake, at most `poll`."""
        limit = self.poll.total_seconds()
        wake = self.next_wake()
        if wake is None:
            return limit
        ahead = (wake - self.engine.clock.now()).total_seconds()
        # A wake already past that this round did not take is held by another worker's lease.
        return limit if ahead <= 0 else min(ahead, limit)

    def run(self) -> None:
        """Work until `stop` is set, then give back this worker's leases."""
        failures = 0
        while not self.stop.is_set():
            try:
                self._maybe_reload()
                done = self.round()
                if not done.busy:
                    self._wait(self.pause())
                failures = 0
            except Exception as error:
                if not is_transient(error):
                    raise
                failures += 1
                delay = min(0.1 * 2 ** min(failures, 6), max(self.poll.total_seconds(), 1.0))
                log.warning("database unavailable (%s); trying again in %.1fs", _first_line(error), delay)
                self._wait(delay)
        try:
            self.engine.store.release_leases(self.owner)
        except Exception:
            log.warning("could not give back the leases of %s; they run out by themselves", self.owner)

    def _maybe_reload(self) -> None:
        # Flows published through another process: their schedules must reach this worker.
        if time.monotonic() - self._reloaded >= self.reload_every.total_seconds():
            self.engine.flows.reload()
            self._reloaded = time.monotonic()


def _first_line(error: BaseException) -> str:
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    return (str(cause).splitlines() or [type(cause).__name__])[0]


class WorkerOptions(msgspec.Struct, frozen=True):
    """What `qunflow worker` is told on its command line. Where deliveries go is not among them: the
    worker sends through the connectors admins configured, as `qunflow serve` does (DESIGN §19)."""

    db: str
    lease: float = 30.0
    poll: float = 1.0
    batch: int = 500
    send_threads: int = 4


def open_worker(options: WorkerOptions) -> Worker:
    """A worker on its own store, engine and dispatcher, as the options say."""
    from .errors import UserError
    from .outbox import open_dispatcher
    from .store import Store
    from .vault import Vault

    for name, value in (
        ("--lease", options.lease),
        ("--poll", options.poll),
        ("--batch", options.batch),
        ("--send-threads", options.send_threads),
    ):
        if value <= 0:
            raise UserError(f"{name} must be positive, not {value}")
    try:
        store = Store.open(options.db)
    except DBAPIError as error:
        raise UserError(f"cannot open the database: {_first_line(error)}") from None
    engine = Engine(store, batch_size=options.batch)
    owner = owner_name("worker")
    lease = timedelta(seconds=options.lease)
    dispatcher = open_dispatcher(
        store,
        engine.clock,
        vault=Vault.for_database(store.url),
        owner=owner,
        lease=lease,
        threads=options.send_threads,
        hooks=engine.hooks,
        ingest=engine.ingest,
    )
    return Worker(engine, dispatcher, owner=owner, lease=lease, poll=timedelta(seconds=options.poll))


__all__ = ["Round", "Worker", "WorkerOptions", "open_worker"]
