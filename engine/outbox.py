"""The outbox dispatcher: sends committed deliveries through connectors, with retries and backoff.

A step writes its deliveries to the `deliveries` table (status `pending`) in the transaction that
moves its run. The dispatcher leases a batch of due pending deliveries (other dispatchers skip them
until the lease runs out), hands each to the connector its kind is routed to, with its idempotency
key, and records the outcome the connector reports: `sent`, `recorded` (nothing left the server),
`awaiting_confirmation` or `skipped` (DESIGN §19); `pending` again with the next attempt after
an exponential backoff; or `failed` with the reason (a permanent error, or too many attempts).

A connector with `send_batch` gets all of a batch's deliveries routed to it in one call (the WeCom
connector makes one mass-send task for many customers); the others get theirs one by one, on the
send threads. A connector with `poll` is polled every `poll_every` (it settles deliveries awaiting
confirmation); the poll runs in whichever process dispatches, `serve` or `worker`.

Sending is at least once: a dispatcher that dies after a call but before recording it leaves the
delivery to be sent again after the lease, with the same key, so the connector or the receiver makes
the effect once.

`qunflow serve` and `qunflow worker` build their dispatcher one way, :func:`open_dispatcher`: routes
and connector options as admins configured them, looked at again before each batch.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

import msgspec

from .clock import Clock, RealClock, from_us, to_us
from .connectors import (
    MADE_SENT,
    ConfiguredRoutes,
    Connector,
    ConnectorContext,
    ConnectorSettings,
    Delivery,
    DeliveryFailed,
    FixedRoutes,
    Made,
    Router,
)
from .event import Event
from .hooks import HookChain, Hooks
from .store import Store
from .store.leases import (
    AWAITING_CONFIRMATION,
    FAILED,
    PENDING,
    RECORDED,
    SENT,
    SKIPPED,
    LeasedDelivery,
    Settled,
)
from .vault import Vault

log = logging.getLogger("qunflow.outbox")


def owner_name(role: str) -> str:
    """A name for this process's leases: host, process id and a random part (process ids repeat)."""
    return f"{role}:{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class RetryPolicy(msgspec.Struct, frozen=True):
    """Attempt n (from 1) that fails with a retryable error is tried again after
    `first_delay * 2**(n-1)`, at most `max_delay`; after `max_attempts` the delivery fails."""

    max_attempts: int = 8
    first_delay: timedelta = timedelta(seconds=2)
    max_delay: timedelta = timedelta(hours=1)

    def delay(self, attempts: int) -> timedelta:
        return min(self.first_delay * 2 ** max(attempts - 1, 0), self.max_delay)


class DispatchResult(msgspec.Struct):
    leased: int = 0
    sent: int = 0
    recorded: int = 0
    awaiting_confirmation: int = 0
    skipped: int = 0
    retrying: int = 0
    failed: int = 0

    def add(self, other: DispatchResult) -> None:
        for field in self.__struct_fields__:
            setattr(self, field, getattr(self, field) + getattr(other, field))


_COUNTED = {
    SENT: "sent",
    RECORDED: "recorded",
    AWAITING_CONFIRMATION: "awaiting_confirmation",
    SKIPPED: "skipped",
    PENDING: "retrying",
    FAILED: "failed",
}


# Kinds sent before any backlog: WeCom takes a welcome code only within 20 s of the add (DESIGN §20).
# Older ones (a dispatcher was down) wait their turn with the rest.
URGENT_KINDS = ("welcome",)
URGENT_WITHIN = timedelta(minutes=2)


class Dispatcher:
    """Sends the outbox through `router` (see :func:`open_dispatcher`). For tests and tools, a fixed
    set instead: `connector` takes every kind without a connector of its own in `routes`
    (`{"webhook": WebhookConnector(...)}`); the recording connector by default."""

    def __init__(
        self,
        store: Store,
        connector: Connector | None = None,
        *,
        routes: Mapping[str, Connector] | None = None,
        router: Router | None = None,
        clock: Clock | None = None,
        owner: str | None = None,
        lease: timedelta = timedelta(seconds=30),
        batch_size: int = 100,
        policy: RetryPolicy | None = None,
        threads: int = 1,
        hooks: Iterable[Hooks] = (),
        poll_every: timedelta = timedelta(seconds=10),
        poll_apart: bool = False,
        urgent_only: bool = False,
    ) -> None:
        self.store = store
        # A fast lane beside the main dispatcher: only the urgent kinds, and no polling.
        self.urgent_only = urgent_only
        self.router: Router = router or FixedRoutes(connector, routes)
        self.clock = clock or RealClock()
        self.owner = owner or owner_name("dispatcher")
        self.lease = lease
        self.batch_size = batch_size
        self.policy = policy or RetryPolicy()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="qunflow-send") if threads > 1 else None
        self.hooks = HookChain(tuple(hooks))
        self.poll_every = poll_every
        self._polled_at: datetime | None = None
        # Polls may call slow outside systems: in a server they run on a thread of their own, so
        # sending (a welcome within its 20 s) never waits for them.
        self._poller = ThreadPoolExecutor(1, thread_name_prefix="qunflow-poll") if poll_apart else None
        self._polling: Future[None] | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if self._poller is not None:
            # A poll under way ends by itself (connectors bound their polls); stopping never waits.
            self._poller.shutdown(wait=False, cancel_futures=True)

    def dispatch(self, now: datetime | None = None) -> DispatchResult:
        """Lease one batch of due deliveries, send them and record each outcome."""
        moment = now or self.clock.now()
        leased = self.store.lease_deliveries(
            to_us(moment),
            self.batch_size,
            self.owner,
            to_us(moment + self.lease),
            first=URGENT_KINDS,
            recent=to_us(moment - URGENT_WITHIN),
            only_first=self.urgent_only,
        )
        result = DispatchResult(leased=len(leased))
        if not leased:
            self._poll(moment)
            return result
        for outcome in self.send_held(leased, moment):
            field = _COUNTED[outcome.status]
            setattr(result, field, getattr(result, field) + 1)
        self._poll(moment)
        return result

    def send_held(self, leased: list[LeasedDelivery], now: datetime | None = None) -> list[Settled]:
        """Send deliveries this dispatcher holds the lease of (as :meth:`dispatch` leases them, or as
        a test send is made: leased from the start) and record each outcome: what `dispatch` does
        with a batch once it is leased. Returns the outcomes, in order."""
        moment = now or self.clock.now()
        # Settings changed by an admin (any process) apply from this batch on.
        self.router.refresh()
        sends = self._send_all(leased)
        outcomes = [self._outcome(held, failure, moment) for held, failure in zip(leased, sends, strict=True)]
        self.store.settle_deliveries(self.owner, outcomes, now=to_us(self.clock.now()))
        self._settled(leased, outcomes)
        return outcomes

    def _poll(self, moment: datetime) -> None:
        """Let each connector with a `poll` do its periodic work, at most once per `poll_every`."""
        if self.urgent_only:
            return
        if self._polled_at is not None and abs(moment - self._polled_at) < self.poll_every:
            return
        if self._poller is None:
            self._polled_at = moment
            self._poll_now(moment)
        elif self._polling is None or self._polling.done():  # one poll at a time
            self._polled_at = moment
            self._polling = self._poller.submit(self._poll_now, moment)

    def _poll_now(self, moment: datetime) -> None:
        try:
            self.router.refresh()
        except Exception:
            log.exception("connector settings could not be read for polling")
            return
        for connector in self.router.connectors():
            poll = getattr(connector, "poll", None)
            if not callable(poll):
                continue
            try:
                poll(moment)
            except Exception:  # a connector's trouble must not stop the dispatcher
                log.exception("connector %s failed to poll", connector.name)

    def _settled(self, leased: list[LeasedDelivery], outcomes: list[Settled]) -> None:
        """After a batch's outcomes are stored: the one place where what follows a settled delivery
        goes (the `after_delivery` hook, for each outcome that is not `pending`)."""
        for held, outcome in zip(leased, outcomes, strict=True):
            if outcome.status != PENDING:
                self.hooks.after_delivery(held, outcome)

    def drain(self, now: datetime | None = None) -> DispatchResult:
        """Dispatch batches until no delivery is due at `now`."""
        total = DispatchResult()
        while True:
            result = self.dispatch(now)
            total.add(result)
            if not result.leased:
                return total

    def next_attempt(self) -> datetime | None:
        """When the next pending delivery is due, if any is pending."""
        at = self.store.next_delivery_attempt()
        return from_us(at) if at is not None else None

    # -- one delivery ----------------------------------------------------------------------------------

    def _send_all(self, leased: list[LeasedDelivery]) -> list[Made | DeliveryFailed]:
        """Each delivery's result, in order: batch connectors get theirs in one call, while the
        others' are sent one by one on the send threads."""
        results: list[Made | DeliveryFailed | None] = [None] * len(leased)
        singles: list[int] = []
        batches: dict[int, tuple[Connector, list[int]]] = {}
        for index, held in enumerate(leased):
            connector = self.router.connector_for(held.kind)
            if _batches(connector, held.kind):
                batches.setdefault(id(connector), (connector, []))[1].append(index)
            else:
                singles.append(index)
        chosen = [leased[i] for i in singles]
        sends = self._pool.map(self._send, chosen) if self._pool is not None else map(self._send, chosen)
        for connector, indexes in batches.values():
            made = self._send_batch(connector, [leased[i] for i in indexes])
            for index, one in zip(indexes, made, strict=True):
                results[index] = one
        for index, one in zip(singles, sends, strict=True):
            results[index] = one
        return results  # type: ignore[return-value]  # every place is filled above

    def _send(self, held: LeasedDelivery) -> Made | DeliveryFailed:
        connector = self.router.connector_for(held.kind)
        try:
            made = connector.send(_delivery(held))
        except DeliveryFailed as error:
            return error
        except Exception as error:  # a connector's bug fails the attempt, never the dispatcher
            log.exception("connector %s raised on delivery %s", connector.name, held.key)
            return DeliveryFailed(f"{connector.name}: {type(error).__name__}: {error}", retryable=True)
        return _checked(connector, made)

    def _send_batch(self, connector: Connector, held: list[LeasedDelivery]) -> list[Made | DeliveryFailed]:
        try:
            made = connector.send_batch([_delivery(h) for h in held])  # type: ignore[attr-defined]
        except DeliveryFailed as error:
            return [error] * len(held)
        except Exception as error:  # a connector's bug fails the attempts, never the dispatcher
            log.exception("connector %s raised on a batch of %d deliveries", connector.name, len(held))
            failure = DeliveryFailed(f"{connector.name}: {type(error).__name__}: {error}", retryable=True)
            return [failure] * len(held)
        if not isinstance(made, list | tuple) or len(made) != len(held):
            failure = DeliveryFailed(f"{connector.name}: send_batch returned the wrong number of results")
            return [failure] * len(held)
        return [m if isinstance(m, DeliveryFailed) else _checked(connector, m) for m in made]

    def _outcome(self, held: LeasedDelivery, result: Made | DeliveryFailed, moment: datetime) -> Settled:
        if isinstance(result, Made):
            sent_at = to_us(self.clock.now()) if result.status == SENT else None
            return Settled(
                held.id, result.status, sent_at=sent_at, reason=result.reason, reference=result.reference
            )
        failure = result
        reason = str(failure)
        if failure.retryable and held.attempts < self.policy.max_attempts:
            again = moment + self.policy.delay(held.attempts)
            return Settled(held.id, PENDING, next_attempt_at=to_us(again), error=reason)
        if failure.retryable:
            reason = f"尝试 {held.attempts} 次后放弃 (gave up after {held.attempts} attempts)：{reason}"
        return Settled(held.id, FAILED, error=reason)


_MADE_STATUSES = frozenset({SENT, RECORDED, AWAITING_CONFIRMATION, SKIPPED})


def _batches(connector: Connector, kind: str) -> bool:
    """Whether the connector takes deliveries of `kind` in batches (`send_batch`, `batch_kinds`)."""
    if not callable(getattr(connector, "send_batch", None)):
        return False
    kinds = getattr(connector, "batch_kinds", None)
    return kinds is None or kind in kinds


def _delivery(held: LeasedDelivery) -> Delivery:
    return Delivery(
        key=held.key,
        kind=held.kind,
        payload=msgspec.json.decode(held.payload),
        flow=held.flow,
        node=held.node,
        member=held.member,
        run=held.run,
        at=from_us(held.at),
        id=held.id,
        test=held.test,
    )


def _checked(connector: Connector, made: object) -> Made | DeliveryFailed:
    """What a connector returned for one delivery, if it is something a connector may return."""
    if made is None:
        return MADE_SENT
    if not isinstance(made, Made) or made.status not in _MADE_STATUSES:
        return DeliveryFailed(f"{connector.name}: send returned {type(made).__name__}", retryable=True)
    return made


def open_dispatcher(
    store: Store,
    clock: Clock,
    *,
    vault: Vault | None = None,
    settings: ConnectorSettings | None = None,
    owner: str | None = None,
    lease: timedelta = timedelta(seconds=30),
    threads: int = 4,
    hooks: Iterable[Hooks] = (),
    ingest: Callable[[Sequence[Event]], object] | None = None,
    urgent_only: bool = False,
) -> Dispatcher:
    """The dispatcher of `qunflow serve` and `qunflow worker`: through the routes and connector
    options admins configured (`settings`, or read with `vault`'s key), seen again when they change;
    `hooks` hear of each settled delivery (the engine's own, so one list serves both). Connectors
    may run periodic work from their polls (an hourly sync), taking in what they find with `ingest`
    (the process's engine)."""
    if settings is None:
        settings = ConnectorSettings(store, vault or Vault.for_database(store.url))
    router = ConfiguredRoutes(settings, ConnectorContext(store, clock, ingest, periodic=True))
    return Dispatcher(
        store,
        router=router,
        clock=clock,
        owner=owner,
        lease=lease,
        threads=threads,
        hooks=hooks,
        poll_apart=True,
        urgent_only=urgent_only,
    )


__all__ = ["DispatchResult", "Dispatcher", "RetryPolicy", "open_dispatcher", "owner_name"]
