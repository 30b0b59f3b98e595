"""Leases and the outbox: what lets several worker processes share one PostgreSQL store.

A worker *leases* a batch of due runs in a short transaction of its own (``FOR UPDATE SKIP LOCKED``,
then it writes its name and a deadline on them), steps them in a second transaction that takes
only the runs still leased to it, and every step clears the lease. A worker that dies leaves its
leases behind; once their deadline passes, any worker may lease those runs again. Deliveries are
leased the same way while a dispatcher sends them.

On SQLite every write transaction runs alone (``BEGIN IMMEDIATE``), so the same calls are simply
serialised.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from sqlalchemy import Boolean, ColumnElement, Select, and_, bindparam, case, func, or_, select, update

from ..errors import Conflict, NotFound
from ..rollup import delivery_metric
from . import schema as t

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.engine import Engine as SAEngine

    from ..run import Run

S = TypeVar("S", bound=Select[Any])
PENDING, SENT, FAILED = "pending", "sent", "failed"
# Settled without a call out (DESIGN §19): the recording connector kept it, nothing left the server.
RECORDED = "recorded"
# Handed over, but a person must still confirm it (a WeCom mass send); sent or failed later.
AWAITING_CONFIRMATION = "awaiting_confirmation"
# Deliberately not made, with a reason (`quota`, `budget`).
SKIPPED = "skipped"
# Withdrawn by an operator while it was still pending: never sent.
CANCELLED = "cancelled"
DELIVERY_STATUSES = (PENDING, SENT, FAILED, RECORDED, AWAITING_CONFIRMATION, SKIPPED, CANCELLED)
# Statuses after which nothing more happens to a delivery (unless an operator retries a failed one).
FINAL_STATUSES = frozenset({SENT, FAILED, RECORDED, SKIPPED, CANCELLED})
# `deliveries.notify`: a run waits to hear how the delivery settles; it has settled and the run is to
# be told (engine.settlements); the run has been told.
NOTIFY_WAITING, NOTIFY_DUE, NOTIFY_TOLD = "waiting", "due", "told"


class LeasedDelivery(msgspec.Struct, frozen=True):
    """A delivery as the dispatcher holds it while sending."""

    id: int
    key: str
    flow: str
    node: str
    run: int | None
    member: str | None
    kind: str
    payload: str  # JSON text, decoded by the dispatcher
    at: int
    attempts: int  # this attempt included
    # A test send (engine.test_send): made like any delivery, counted in no quota, cap or report.
    test: bool = False


class Settled(msgspec.Struct, frozen=True):
    """What became of one leased delivery."""

    id: int
    status: str  # pending (try again at next_attempt_at), or one of the settled DELIVERY_STATUSES
    next_attempt_at: int | None = None
    error: str | None = None
    sent_at: int | None = None
    reason: str | None = None  # skipped: why (`quota`, `budget`)
    reference: str | None = None  # awaiting_confirmation: the outside system's id for it
    settled_at: int | None = None  # a final status: when it was reached (default: sent_at, or now)


def wall_clock_us() -> int:
    """Now, for a settle whose caller did not say when (the dispatcher always does)."""
    return time.time_ns() // 1000


def _told_later(c: Any) -> Any:
    """`notify` of a delivery that settles: a run waiting for it is to be told."""
    return case((c.notify == NOTIFY_WAITING, NOTIFY_DUE), else_=c.notify)


class LeaseStore:
    """Lease and outbox methods of :class:`engine.store.Store`."""

    if TYPE_CHECKING:
        dialect: str
        engine: SAEngine

        def transaction(self) -> Any: ...

        def _deliveries_moved(
            self, conn: Connection, moves: Iterable[tuple[str, int, str | None, str]]
        ) -> None: ...

    # -- locking helpers ----------------------------------------------------------------------------

    def for_update(self, stmt: S, skip_locked: bool = False) -> S:
        """Row locks on PostgreSQL; SQLite has no row locks (its writers already run one at a time)."""
        if self.dialect == "postgresql":
            return stmt.with_for_update(skip_locked=skip_locked)
        return stmt

    @staticmethod
    def lease_free(now: int) -> ColumnElement[bool]:
        """Runs that no worker holds at `now`."""
        c = t.runs.c
        return or_(c.lease_until.is_(None), c.lease_until <= now)

    def lock_members(self, conn: Connection, ids: Iterable[str]) -> None:
        """Hold the members' rows until the transaction ends, in id order so that two batches never
        wait for each other in a circle. Anything that changes a member's runs or the member takes
        this lock after the runs' locks."""
        if self.dialect != "postgresql":
            return
        ids = sorted(set(ids))
        if ids:
            c = t.members.c
            conn.execute(select(c.id).where(c.id.in_(ids)).order_by(c.id).with_for_update()).all()

    def allocate_apart(self, name: str, count: int) -> int:
        """Reserve `count` consecutive ids of a sequence in a transaction of its own; returns the first.
        Ids reserved by a batch that then rolls back are simply never used."""
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(t.sequences).values(name=name, value=count)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"], set_={"value": t.sequences.c.value + stmt.excluded.value}
        ).returning(t.sequences.c.value)
        with self.engine.begin() as conn:
            value = conn.execute(stmt).scalar_one()
        return value - count + 1

    # -- run leases ----------------------------------------------------------------------------------

    def lease_due(self, now: int, limit: int, owner: str, until: int) -> list[int]:
        """Lease up to `limit` due runs that no live lease holds to `owner` until `until`, in the order
        they became due; returns their ids. Commits at once."""
        c = t.runs.c
        stmt = (
            select(c.id)
            .where(c.wake_at <= now, self.lease_free(now))
            .order_by(c.wake_at, c.due_seq, c.id)
            .limit(limit)
        )
        with self.transaction() as conn:
            ids = list(conn.execute(self.for_update(stmt, skip_locked=True)).scalars())
            if ids:
                conn.execute(update(t.runs).where(c.id.in_(ids)).values(lease_owner=owner, lease_until=until))
        return ids

    def take_leased(self, conn: Connection, ids: Sequence[int], owner: str, now: int) -> list[Run]:
        """Lock and load the runs among `ids` that are still leased to `owner` and still due. A run
        stepped meanwhile (by an event, or by a worker that took an expired lease over) has lost the
        lease, since every step clears it, and is left out."""
        from .rows import run_from_row

        c = t.runs.c
        stmt = select(t.runs).where(c.id.in_(ids), c.lease_owner == owner, c.wake_at <= now).order_by(c.id)
        return [run_from_row(r) for r in conn.execute(self.for_update(stmt))]

    def lock_run(self, conn: Connection, run_id: int) -> Run:
        """Lock and load one run (a person's change to it: a worker or an event stepping it at the
        same time waits for this transaction, then sees what it left)."""
        from .rows import run_from_row

        row = conn.execute(self.for_update(select(t.runs).where(t.runs.c.id == run_id))).first()
        if row is None:
            raise NotFound(f"no run {run_id}")
        return run_from_row(row)

    def release_leases(self, owner: str) -> int:
        """Give back every run lease `owner` holds (a worker stopping cleanly); returns how many."""
        c = t.runs.c
        with self.transaction() as conn:
            return conn.execute(
                update(t.runs).where(c.lease_owner == owner).values(lease_owner=None, lease_until=None)
            ).rowcount

    # -- outbox ----------------------------------------------------------------------------------------

    def lease_deliveries(
        self,
        now: int,
        limit: int,
        owner: str,
        until: int,
        first: Sequence[str] = (),
        recent: int = 0,
        only_first: bool = False,
    ) -> list[LeasedDelivery]:
        """Lease up to `limit` pending deliveries whose next attempt is due: each counts one more attempt
        and is not due again before `until`, so a dispatcher that dies mid-send only delays it.

        Deliveries of the kinds in `first` made at or after `recent` come before all others, however
        many others wait: they have a deadline of seconds (a WeCom welcome code lasts 20 s). With
        `only_first`, only those are leased."""
        c = t.deliveries.c
        columns = select(
            c.id, c.key, c.flow_id, c.node, c.run_id, c.member_id, c.kind, c.payload, c.at, c.attempts, c.test
        )
        due = (c.status == PENDING, c.next_attempt_at <= now)
        with self.transaction() as conn:
            rows: list[Any] = []
            if first:
                # Found through (kind, at): a backlog of other deliveries is not scanned.
                urgent = columns.where(c.kind.in_(first), c.at >= recent, *due)
                urgent = urgent.order_by(c.next_attempt_at, c.id).limit(limit)
                rows = list(conn.execute(self.for_update(urgent, skip_locked=True)).all())
            if len(rows) < limit and not only_first:
                rest = columns.where(*due).order_by(c.next_attempt_at, c.id).limit(limit - len(rows))
                if rows:
                    rest = rest.where(c.id.not_in([r.id for r in rows]))
                rows += conn.execute(self.for_update(rest, skip_locked=True)).all()
            if rows:
                conn.execute(
                    update(t.deliveries)
                    .where(c.id.in_([r.id for r in rows]))
                    .values(lease_owner=owner, next_attempt_at=until, attempts=c.attempts + 1)
                )
        return [
            LeasedDelivery(
                r.id,
                r.key,
                r.flow_id,
                r.node,
                r.run_id,
                r.member_id,
                r.kind,
                r.payload,
                r.at,
                r.attempts + 1,
                bool(r.test),
            )
            for r in rows
        ]

    def settle_deliveries(self, owner: str, outcomes: Sequence[Settled], now: int | None = None) -> int:
        """Record what became of leased deliveries; a delivery whose lease `owner` lost meanwhile is
        left as its new holder has it. Returns how many were recorded.

        A delivery that reaches a final status gets its `settled_at` (the outcome's, else `now`), and
        one that a run waits for is queued for the engine to tell it (`notify` becomes `due`), in the
        same statement: a settle seen twice finds the delivery no longer pending and changes nothing."""
        if not outcomes:
            return 0
        c = t.deliveries.c
        fallback = now if now is not None else wall_clock_us()
        stmt = (
            update(t.deliveries)
            .where(c.id == bindparam("b_id"), c.lease_owner == owner, c.status == PENDING)
            .values(
                status=bindparam("b_status"),
                next_attempt_at=bindparam("b_next"),
                error=bindparam("b_error"),
                sent_at=bindparam("b_sent"),
                reason=bindparam("b_reason"),
                reference=bindparam("b_reference"),
                lease_owner=None,
                settled_at=bindparam("b_settled"),
                notify=case(
                    (and_(c.notify == NOTIFY_WAITING, bindparam("b_final", type_=Boolean)), NOTIFY_DUE),
                    else_=c.notify,
                ),
            )
        )
        rows = []
        for o in outcomes:
            final = o.status in FINAL_STATUSES
            settled = (o.settled_at or o.sent_at or fallback) if final else None
            rows.append(
                {
                    "b_id": o.id,
                    "b_status": o.status,
                    "b_next": o.next_attempt_at,
                    "b_error": o.error,
                    "b_sent": o.sent_at,
                    "b_reason": o.reason,
                    "b_reference": o.reference,
                    "b_settled": settled,
                    "b_final": final,
                }
            )
        with self.transaction() as conn:
            # The deliveries this settles, as they are (locked): the rollups move them by status.
            held = select(c.id, c.kind, c.at, c.test).where(
                c.id.in_([o.id for o in outcomes]), c.lease_owner == owner, c.status == PENDING
            )
            made = {i: (kind, at) for i, kind, at, test in conn.execute(self.for_update(held)) if not test}
            settled = conn.execute(stmt, rows).rowcount
            self._deliveries_moved(
                conn,
                (
                    (*made[o.id], PENDING, delivery_metric(o.status, o.reason))
                    for o in outcomes
                    if o.id in made and o.status != PENDING
                ),
            )
            return settled

    def confirm_deliveries(
        self,
        references: Sequence[str],
        status: str,
        at: int,
        error: str | None = None,
        reason: str | None = None,
    ) -> int:
        """Settle the deliveries awaiting confirmation under these outside references (a WeCom
        `msgid`) as `sent` or `failed` (with a `reason` such as `quota` when there is one); others
        are left alone, so a late or repeated report changes nothing. Returns how many were settled."""
        if status not in (SENT, FAILED):
            raise ValueError(f"a confirmation settles a delivery as sent or failed, not {status}")
        if not references:
            return 0
        c = t.deliveries.c
        values: dict[str, Any] = {"status": status, "error": error, "settled_at": at}
        values["notify"] = _told_later(c)
        if reason is not None:
            values["reason"] = reason
        if status == SENT:
            values["sent_at"] = at
        with self.transaction() as conn:
            settled = conn.execute(
                update(t.deliveries)
                .where(c.reference.in_(list(references)), c.status == AWAITING_CONFIRMATION)
                .values(**values)
                .returning(c.kind, c.at, c.test)
            ).all()
            self._deliveries_moved(
                conn, ((kind, at, AWAITING_CONFIRMATION, status) for kind, at, test in settled if not test)
            )
            return len(settled)

    def cancel_delivery(self, delivery_id: int, now: int) -> None:
        """Withdraw a pending delivery that no dispatcher holds at `now`: it becomes `cancelled` and is
        never sent. One conditional update, so it cannot race a dispatcher: a lease taken first makes
        it refuse (409), and a lease tried after finds the delivery no longer pending."""
        c = t.deliveries.c
        with self.transaction() as conn:
            changed = conn.execute(
                update(t.deliveries)
                .where(c.id == delivery_id, c.status == PENDING)
                .where(or_(c.lease_owner.is_(None), c.next_attempt_at <= now))
                .values(
                    status=CANCELLED,
                    lease_owner=None,
                    next_attempt_at=None,
                    settled_at=now,
                    notify=_told_later(c),
                )
                .returning(c.kind, c.at, c.test)
            ).all()
            self._deliveries_moved(
                conn, ((kind, at, PENDING, CANCELLED) for kind, at, test in changed if not test)
            )
            if not changed:
                rule = "only a pending delivery can be cancelled (只能取消待发送的投递)"
                self._refuse(conn, delivery_id, "cancelled", rule)

    def retry_delivery(self, delivery_id: int, now: int) -> None:
        """Send a failed delivery again: `pending`, due at `now`, with the same key (so a connector
        that made it after all makes it once)."""
        c = t.deliveries.c
        with self.transaction() as conn:
            changed = conn.execute(
                update(t.deliveries)
                .where(c.id == delivery_id, c.status == FAILED)
                # A run not told of the failure yet goes on waiting: for this attempt's outcome.
                .values(
                    status=PENDING,
                    next_attempt_at=now,
                    lease_owner=None,
                    settled_at=None,
                    notify=case((c.notify == NOTIFY_DUE, NOTIFY_WAITING), else_=c.notify),
                )
                .returning(c.kind, c.at, c.test)
            ).all()
            self._deliveries_moved(
                conn, ((kind, at, FAILED, PENDING) for kind, at, test in changed if not test)
            )
            if not changed:
                rule = "only a failed delivery can be retried (只能重试失败的投递)"
                self._refuse(conn, delivery_id, "retried", rule)

    @staticmethod
    def _refuse(conn: Connection, delivery_id: int, done: str, rule: str) -> None:
        """Why a delivery could not be `done`: it is not there (NotFound), a dispatcher holds it (a
        pending one that cancel left alone), or its status is not the one `rule` asks for."""
        c = t.deliveries.c
        status = conn.execute(select(c.status).where(c.id == delivery_id)).scalar()
        if status is None:
            raise NotFound(f"no delivery {delivery_id} (找不到投递 {delivery_id})")
        if status == PENDING and done == "cancelled":
            raise Conflict(
                f"delivery {delivery_id} is being sent right now and cannot be cancelled (正在发送，无法取消)"
            )
        raise Conflict(f"delivery {delivery_id} is {status}: {rule}")

    def next_delivery_attempt(self) -> int | None:
        """When the earliest pending delivery is next due (microseconds), if any is pending."""
        c = t.deliveries.c
        with self.engine.connect() as conn:
            return conn.execute(select(func.min(c.next_attempt_at)).where(c.status == PENDING)).scalar()

    def delivery_statuses(self) -> dict[str, int]:
        """How many deliveries have each status."""
        c = t.deliveries.c
        with self.engine.connect() as conn:
            return {s: n for s, n in conn.execute(select(c.status, func.count()).group_by(c.status))}
