"""Mass sends (`add_msg_template`, document path 92135): deliveries batched into tasks that a staff
member confirms, the quota ledger, and idempotency.

**Batching.** Deliveries of one step (flow and node) with the same sender, chat type and content go
in one call: one task, many recipients.

**Quota.** Before a customer is put in a task, their mass sends in the current period of
`mass_send_limit` are counted (:class:`Ledger`); over it, the delivery is `skipped` (`quota`) and
never sent. A test send (`Delivery.test`) is held to the quota as well (WeCom would refuse it), but
is not counted in it: its row's kind is `test`.

**Idempotency.** A row per delivery is written (state `calling`) *before* the call and given the
task's msgid after. A retried delivery whose row has a msgid is answered from the row: no second task.
A row left `calling` means the process stopped (or the answer was lost) between the call and the
record; then the task is looked for at WeCom (`get_groupmsg_list_v2` for the sender's tasks made since
shortly before the row, with the same text, whose `get_groupmsg_send_result` lists the recipient) and
adopted if found; if none is found the delivery is sent again.

The window that remains, as far as WeCom allows: WeCom lists a task some time after making it; if
the retry looks before the lost task is listed (a retry comes after the dispatcher's lease, 30 s by
default, and its backoff), a second task is made and the customer may be asked twice. There is no
idempotency key in WeCom's API to close it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from ...clock import to_us
from ..base import Delivery, DeliveryFailed, Made, awaiting_confirmation, skipped
from .client import WecomApi
from .errors import Unreachable, WecomError
from .ledger import AWAITING, CALLING, FAILED, MASS, SENT, TEST, Ledger, SendRow, period_start

if TYPE_CHECKING:
    from .options import MassSendLimit

log = logging.getLogger("qunflow.connectors.wecom")
MAX_RECIPIENTS = 10_000  # external_userid per add_msg_template call (path 92135)
LOOK_BACK = timedelta(minutes=2)  # how far before a lost call's row its task is looked for


class MassItem(msgspec.Struct, frozen=True):
    """One delivery ready for a mass send: who sends, to whom, what."""

    delivery: Delivery
    chat_type: str  # single (to a customer) or group
    sender: str
    recipient: str
    text: str
    attachments: list[dict[str, Any]] = []

    @property
    def batch_key(self) -> tuple[str, ...]:
        d = self.delivery
        content = msgspec.json.encode(self.attachments).decode()
        return (d.flow, d.node, self.chat_type, self.sender, self.text, content)


class MassSender:
    """Makes mass-send tasks for items, at most once per delivery key."""

    def __init__(self, api: WecomApi, ledger: Ledger, limit: MassSendLimit) -> None:
        self.api = api
        self.ledger = ledger
        self.limit = limit

    def send(self, items: Sequence[MassItem], now: datetime) -> dict[str, Made | DeliveryFailed]:
        """What became of each item's delivery, by key."""
        results: dict[str, Made | DeliveryFailed] = {}
        rows = self.ledger.find(i.delivery.key for i in items)
        fresh: list[MassItem] = []
        for item in items:
            row = rows.get(item.delivery.key)
            if row is not None and row.state == CALLING:
                try:
                    row = self._recover(row, item, now)
                except (WecomError, Unreachable) as error:  # not known yet: try again later
                    results[item.delivery.key] = _retry_later(error)
                    continue
                if row is None:  # WeCom made nothing: the old row must not count against the quota
                    self.ledger.forget([item.delivery.key])
            if row is None:
                fresh.append(item)
            else:
                results[item.delivery.key] = _answer(row)
        groups: dict[tuple[str, ...], list[MassItem]] = {}
        since = to_us(period_start(now, self.limit.per))
        counted = self.ledger.mass_sends_of([i.recipient for i in fresh if i.chat_type == "single"], since)
        for item in fresh:
            if item.chat_type == "single":
                member = item.recipient
                if counted[member] >= self.limit.count:
                    results[item.delivery.key] = skipped("quota")
                    continue
                if not item.delivery.test:
                    counted[member] += 1
            groups.setdefault(item.batch_key, []).append(item)
        for group in groups.values():
            for start in range(0, len(group), MAX_RECIPIENTS):
                results.update(self._call(group[start : start + MAX_RECIPIENTS], now))
        return results

    def _call(self, items: list[MassItem], now: datetime) -> dict[str, Made | DeliveryFailed]:
        first = items[0]
        batch = secrets.token_hex(8)
        at = to_us(now)
        rows = [
            SendRow(
                key=i.delivery.key,
                kind=TEST if i.delivery.test else MASS if i.chat_type == "single" else "group",
                member_id=i.delivery.member,
                recipient=i.recipient,
                sender=i.sender,
                batch=batch,
                msgid=None,
                state=CALLING,
                created_at=at,
            )
            for i in items
        ]
        self.ledger.begin(rows)
        recipients = list(dict.fromkeys(i.recipient for i in items))
        try:
            made = self.api.add_msg_template(
                first.chat_type,
                first.sender,
                first.text,
                external_userid=recipients if first.chat_type == "single" else (),
                chat_id_list=recipients if first.chat_type == "group" else (),
                attachments=first.attachments,
            )
        except WecomError as error:
            # WeCom answered: it made no task. The rows go, so the quota does not count them.
            self.ledger.forget(r.key for r in rows)
            return {r.key: error for r in rows}
        except Unreachable as error:
            # Perhaps made, perhaps not: the rows stay `calling`, and the retry looks for the task.
            if not error.may_have_reached:
                self.ledger.forget(r.key for r in rows)
            return {r.key: error for r in rows}
        refused = set(made.fail_list)
        taken = [r.key for r in rows if r.recipient not in refused]
        self.ledger.made(taken, made.msgid, AWAITING)
        self.ledger.made([r.key for r in rows if r.recipient in refused], made.msgid, FAILED, at)
        results: dict[str, Made | DeliveryFailed] = {}
        for row in rows:
            if row.recipient in refused:
                results[row.key] = DeliveryFailed(
                    "企业微信拒绝了这位客户：不是发送员工的客户，或已达接收上限 (refused by WeCom)",
                    retryable=False,
                )
            else:
                results[row.key] = awaiting_confirmation(f"{made.msgid}:{row.recipient}")
        return results

    def _recover(self, row: SendRow, item: MassItem, now: datetime) -> SendRow | None:
        """The task a lost call made for `row`, recorded; None if WeCom has none (send again)."""
        start = int(row.created_at / 1_000_000 - LOOK_BACK.total_seconds())
        end = int(now.timestamp() + LOOK_BACK.total_seconds())
        for record in self.api.get_groupmsg_list_v2(item.chat_type, start, end, item.sender):
            if (record.text or {}).get("content", "") != item.text:
                continue
            listed = self.api.get_groupmsg_send_result(record.msgid, item.sender)
            if any(r.recipient == row.recipient for r in listed):
                log.info("a lost mass-send call is found at WeCom: task %s adopted", record.msgid)
                self.ledger.made([row.key], record.msgid, AWAITING)
                return msgspec.structs.replace(row, msgid=record.msgid, state=AWAITING)
        return None


def _retry_later(error: DeliveryFailed) -> DeliveryFailed:
    message = f"未能确认上次群发是否已创建，稍后重试 (was the last task made? retrying): {error}"
    return DeliveryFailed(message, retryable=True)


def _answer(row: SendRow) -> Made | DeliveryFailed:
    """What a delivery already handed over is, from its row: the same as the first time."""
    if row.state == SENT:
        return Made("sent")
    if row.state == FAILED:
        return DeliveryFailed("企业微信群发未成功 (the mass send failed before)", retryable=False)
    return awaiting_confirmation(row.reference)


__all__ = ["MassItem", "MassSender"]
