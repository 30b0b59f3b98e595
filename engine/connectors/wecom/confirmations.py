"""The confirmation lifecycle of mass sends (DESIGN §20): `awaiting_confirmation` → `sent` / `failed`
per recipient, from WeCom's record of each task (document path 93338), polled every few seconds by
the dispatcher of whichever process runs (`serve`, `worker`).

- The sender's part of the task (`get_groupmsg_task`) says whether they tapped 发送; once they did,
  `get_groupmsg_send_result` says per recipient: 1 sent; 2 failed, not (any longer) the sender's
  customer; 3 failed with reason `quota`: WeCom held it back because the customer had already
  received their share of mass sends. (Not `skipped`: §19 keeps `skipped` for deliveries qunflow
  itself chose not to make, and the §20 `wait` ports send both to `failed` anyway.)
- Half-way through `confirm_within`, an unconfirmed task gets ONE `remind_groupmsg_send` (claimed in
  the store first, so one process reminds); at `confirm_within` its unconfirmed recipients fail.

Each task is looked at once every `recheck` (20 s; with the dispatcher polling every 10 s, results
are settled within 30 s of WeCom having them), at most `per_poll` tasks a poll (the longest unchecked
first), so a thousand tasks waiting for a day cost about 3,000 calls a minute, under WeCom's per-API
limit of 10,000.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ...clock import to_us
from ...store.leases import FAILED as DELIVERY_FAILED
from ...store.leases import SENT as DELIVERY_SENT
from .client import WecomApi
from .errors import Unreachable, WecomError
from .ledger import FAILED, SENT, Ledger, SendRow

if TYPE_CHECKING:
    from ...store import Store

log = logging.getLogger("qunflow.connectors.wecom")
TAPPED = 2  # get_groupmsg_task: the staff member sent it
NOT_A_FRIEND, OVER_QUOTA, DELIVERED = 2, 3, 1  # get_groupmsg_send_result


class Confirmations:
    """Settles deliveries awaiting a staff member's tap."""

    def __init__(
        self,
        api: WecomApi,
        ledger: Ledger,
        store: Store,
        confirm_within: timedelta,
        *,
        recheck: timedelta = timedelta(seconds=20),
        per_poll: int = 200,
        budget: float = 3.0,
    ) -> None:
        self.api = api
        self.ledger = ledger
        self.store = store
        self.confirm_within = confirm_within
        self.recheck = recheck
        self.per_poll = per_poll
        self.budget = budget  # seconds one poll may spend calling WeCom (a server must stop quickly)
        self._checked: dict[str, datetime] = {}  # msgid → when this process last looked at it

    def poll(self, now: datetime) -> None:
        """Look at the tasks still awaited that are due a look; settle what WeCom reports, remind
        and time out."""
        tasks = self.ledger.awaiting_tasks()
        self._checked = {m: at for m, at in self._checked.items() if m in tasks}
        due = [m for m in tasks if m not in self._checked or now - self._checked[m] >= self.recheck]
        due.sort(key=lambda m: (self._checked.get(m, datetime.min.replace(tzinfo=now.tzinfo)), tasks[m]))
        started = time.monotonic()
        for msgid in due[: self.per_poll]:
            if time.monotonic() - started > self.budget:
                break  # the rest at the next poll, longest unchecked first
            self._checked[msgid] = now
            try:
                self._check(msgid, self.ledger.awaiting(msgid), now)
            except (WecomError, Unreachable) as error:  # the next look tries again
                log.warning("mass send %s: could not read its result: %s", msgid, error)

    def _check(self, msgid: str, rows: list[SendRow], now: datetime) -> None:
        if not rows:
            return
        sender = rows[0].sender or ""
        statuses: dict[str, int] = {}
        if any(t.userid == sender and t.status == TAPPED for t in self.api.get_groupmsg_task(msgid)):
            statuses = {r.recipient: r.status for r in self.api.get_groupmsg_send_result(msgid, sender)}
        at = to_us(now)
        by_status: dict[int, list[SendRow]] = {}
        for row in rows:
            by_status.setdefault(statuses.get(row.recipient, 0), []).append(row)
        self._settle(by_status.pop(DELIVERED, []), DELIVERY_SENT, at)
        not_friend = "客户已不是发送员工的好友 (not a friend)"
        self._settle(by_status.pop(NOT_A_FRIEND, []), DELIVERY_FAILED, at, not_friend)
        self._settle(
            by_status.pop(OVER_QUOTA, []),
            DELIVERY_FAILED,
            at,
            "客户已达企业群发接收上限 (over the customer's mass-send quota)",
            reason="quota",
        )
        waiting = [r for rs in by_status.values() for r in rs]
        if not waiting:
            return
        made_at = datetime.fromtimestamp(min(r.created_at for r in waiting) / 1_000_000, now.tzinfo)
        if now >= made_at + self.confirm_within:
            hours = self.confirm_within.total_seconds() / 3600
            self._settle(
                waiting,
                DELIVERY_FAILED,
                at,
                f"员工未在 {hours:g} 小时内确认群发 (not confirmed within {self.confirm_within})",
            )
        elif now >= made_at + self.confirm_within / 2 and self.ledger.claim_reminder(msgid, at):
            try:
                self.api.remind_groupmsg_send(msgid)
            except (WecomError, Unreachable) as error:
                log.warning("mass send %s: the reminder was refused: %s", msgid, error)

    def _settle(
        self,
        rows: Iterable[SendRow],
        status: str,
        at: int,
        error: str | None = None,
        reason: str | None = None,
    ) -> None:
        rows = list(rows)
        if not rows:
            return
        # The deliveries first: if this process stops before the ledger is updated, the next poll
        # settles them again, which changes nothing.
        self.store.confirm_deliveries([r.reference for r in rows], status, at, error, reason)
        self.ledger.made([r.key for r in rows], None, SENT if status == DELIVERY_SENT else FAILED, at)


__all__ = ["Confirmations"]
