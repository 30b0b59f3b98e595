"""The outbox dispatcher: sends committed deliveries through connectors, with retries and backoff.

A step writes its deliveries to the `deliveries` table (status `pending`) in the transaction that
moves its run. The dispatcher leases a batch of due pending deliveries (other dispatchers skip them
until the lease runs out), hands each to the connector its kind is routed to, with its idempotency
key, and records the outcome the connector reports: `sent`, `recorded` (nothing left the server),
`awaiting_confirmation` or `skipped` (DESIGN §19); `pending` again with the next attempt after
an exponential backoff; or `failed` with the reason (a permanent error, or too many attempts).

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
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
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
    ) -> None:
        self.store = store
        self.router: Router = router or FixedRoutes(connector, routes)
        self.clock = clock or RealClock()
        self.owner = owner or owner_name("dispatcher")
        self.lease = lease
        self.batch_size = batch_size
        self.policy = policy or RetryPolicy()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="qunflow-send") if threads > 1 else None
        self.hooks = HookChain(tuple(hooks))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def dispatch(self, now: datetime | None = None) -> DispatchResult:
        """Lease one batch of due deliveries, send them and record each outcome."""
        moment = now or self.clock.now()
        leased = self.store.lease_deliveries(
            to_us(moment), self.batch_size, self.owner, to_us(moment + self.lease)
        )
        result = DispatchResult(leased=len(leased))
        if not leased:
            return result
        # Settings changed by an admin (any process) apply from this batch on.
        self.router.refresh()
        sends = self._pool.map(self._send, leased) if self._pool is not None else map(self._send, leased)
        outcomes: list[Settled] = []
        for held, failure in zip(leased, sends, strict=True):
            outcomes.append(self._outcome(held, failure, moment))
        for outcome in outcomes:
            field = _COUNTED[outcome.status]
            setattr(result, field, getattr(result, field) + 1)
        self.store.settle_deliveries(self.owner, outcomes, now=to_us(self.clock.now()))
        self._settled(leased, outcomes)
        return result

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

    def _send(self, held: LeasedDelivery) -> Made | DeliveryFailed:
        delivery = Delivery(
            key=held.key,
            kind=held.kind,
            payload=msgspec.json.decode(held.payload),
            flow=held.flow,
            node=held.node,
            member=held.member,
            run=held.run,
            at=from_us(held.at),
            id=held.id,
        )
        connector = self.router.connector_for(held.kind)
        try:
            made = connector.send(delivery)
        except DeliveryFailed as error:
            return error
        except Exception as error:  # a connector's bug fails the attempt, never the dispatcher
            log.exception("connector %s raised on delivery %s", connector.name, held.key)
            return DeliveryFailed(f"{connector.name}: {type(error).__name__}: {error}", retryable=True)
        if made is None:
            return MADE_SENT
        if not isinstance(made, Made) or made.status not in _MADE_STATUSES:
            return DeliveryFailed(f"{connector.name}: send returned {type(made).__name__}", retryable=True)
        return made

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
            reason = f"gave up after {held.attempts} attempts: {reason}"
        return Settled(held.id, FAILED, error=reason)


_MADE_STATUSES = frozenset({SENT, RECORDED, AWAITING_CONFIRMATION, SKIPPED})


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
) -> Dispatcher:
    """The dispatcher of `qunflow serve` and `qunflow worker`: through the routes and connector
    options admins configured (`settings`, or read with `vault`'s key), seen again when they change;
    `hooks` hear of each settled delivery (the engine's own, so one list serves both)."""
    if settings is None:
        settings = ConnectorSettings(store, vault or Vault.for_database(store.url))
    router = ConfiguredRoutes(settings, ConnectorContext(store, clock))
    return Dispatcher(
        store, router=router, clock=clock, owner=owner, lease=lease, threads=threads, hooks=hooks
    )


__all__ = ["DispatchResult", "Dispatcher", "RetryPolicy", "open_dispatcher", "owner_name"]
