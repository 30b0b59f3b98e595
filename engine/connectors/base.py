"""What every connector is: something that makes one delivery's effect in the outside world.

A connector *type* is a plug-in (DESIGN §19): a class found through the entry point group
`qunflow.connectors` that declares its `name`, its options as a msgspec `Struct` (`Options`; secret
fields typed :data:`Secret`), the delivery `kinds` it can make (optionally narrowed by its options
with a classmethod `kinds_for(options)`), and a classmethod `open(options, context)` that makes a
working connector from stored options. `send` says what became of a delivery
by what it returns (:class:`Made`; `None` means sent) or raises (:class:`DeliveryFailed`).

Two optional methods, used by the dispatcher when a connector has them (:class:`BatchSender`,
:class:`Poller`): `send_batch(deliveries)` takes a dispatcher's whole batch for the connector at once
(so it can make one outside call for many deliveries), and `poll(now)` is called every few seconds in
every process that dispatches (to settle deliveries awaiting confirmation).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, ClassVar, Protocol

import msgspec

from ..errors import QunflowError
from ..store.leases import AWAITING_CONFIRMATION, RECORDED, SENT, SKIPPED

SECRET_MARK = "secret"
Secret = Annotated[str, msgspec.Meta(extra={SECRET_MARK: True})]
"""An option that is a secret: stored encrypted, never logged, shown back only as `********`."""

# The delivery kinds of DESIGN §5, and the kinds routes may name (§19): those plus `welcome` and `tag`.
DELIVERY_KINDS = ("message", "coupon", "invite", "remove", "friend_request", "task", "webhook")
ROUTABLE_KINDS = (*DELIVERY_KINDS, "welcome", "tag")


class Delivery(msgspec.Struct, frozen=True):
    """One effect to make, as a connector receives it. `key` is the idempotency key (run, node, visit):
    the same key twice is the same effect, so a connector (and whatever it calls) makes it once."""

    key: str
    kind: str
    payload: dict[str, Any]
    flow: str
    node: str
    member: str | None = None
    run: int | None = None
    at: datetime | None = None
    # The delivery's id in the outbox: a task's page is `/tasks/{id}` (what an app message to staff
    # links to).
    id: int | None = None
    # A test send (the editor's 测试发送): made as any other delivery, but a connector that keeps
    # counts of its own (the WeCom quota ledger) does not count it. Its payload's `to` may be
    # `staff` (with `staff`, a staff account's id): the message goes to that staff member.
    test: bool = False


class Made(msgspec.Struct, frozen=True):
    """What a connector made of a delivery: `sent`, `recorded` (kept here, nothing left the server),
    `awaiting_confirmation` (with the outside system's `reference`) or `skipped` (with a `reason`)."""

    status: str
    reason: str | None = None
    reference: str | None = None


MADE_SENT = Made(SENT)
MADE_RECORDED = Made(RECORDED)


def awaiting_confirmation(reference: str) -> Made:
    """Handed over; a person confirms it later (the delivery settles as sent or failed then)."""
    return Made(AWAITING_CONFIRMATION, reference=reference)


def skipped(reason: str) -> Made:
    """Deliberately not made: `quota`, `budget`."""
    return Made(SKIPPED, reason=reason)


class Connector(Protocol):
    """Sends deliveries. `send` returns when the effect is made (or was made before under the same
    key), saying how (`None` is sent), and raises :class:`DeliveryFailed` when it is not; it may be
    called from several threads."""

    name: str

    def send(self, delivery: Delivery) -> Made | None: ...


class BatchSender(Protocol):
    """A connector that can take many deliveries at once. `send_batch` returns, for each delivery in
    order, what `send` would have returned (`Made` or `None`) or the `DeliveryFailed` it would have
    raised; raising fails the whole batch. With `batch_kinds`, only deliveries of those kinds come
    in batches; the others go to `send`, one by one."""

    name: str

    def send_batch(self, deliveries: Sequence[Delivery]) -> list[Made | None | DeliveryFailed]: ...


class Poller(Protocol):
    """A connector with work of its own between batches (confirmations to fetch, reminders to send).
    `poll` is called with the dispatcher's `now` every few seconds; what it raises is logged."""

    name: str

    def poll(self, now: datetime) -> None: ...


class ConnectorContext:
    """What a connector type gets besides its options when it is opened: the store (a connector may
    keep its own records there, such as a quota ledger), the clock, and optionally `ingest(events)`,
    how events the connector finds (a sync's) are taken in; without it a connector that needs it
    takes them in through an engine of its own on the store. `periodic` is true in the dispatchers
    of `serve` and `worker`: there a connector may start its periodic work (an hourly sync) from
    `poll`."""

    def __init__(self, store: Any, clock: Any, ingest: Any = None, periodic: bool = False) -> None:
        self.store = store
        self.clock = clock
        self.ingest = ingest
        self.periodic = periodic


class ConnectorType(Protocol):
    """A connector plug-in, as the entry point group `qunflow.connectors` names it."""

    name: ClassVar[str]
    kinds: ClassVar[frozenset[str]]
    Options: ClassVar[type[msgspec.Struct]]

    @classmethod
    def open(cls, options: Any, context: ConnectorContext) -> Connector: ...


class DeliveryFailed(QunflowError):
    """The delivery could not be made."""

    retryable = True

    def __init__(self, message: str | None = None, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class AddressRefused(DeliveryFailed):
    """The address is loopback, private, link-local, metadata or otherwise not public; it is refused
    unless allow-listed."""

    retryable = False


class Unavailable:
    """Stands in for a connector that cannot be opened (its options no longer decode, its secrets
    cannot be decrypted): each delivery fails with `reason`, as a retryable failure, so deliveries
    made before the configuration is fixed are not lost."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def send(self, delivery: Delivery) -> Made | None:
        raise DeliveryFailed(self.reason, retryable=True)
