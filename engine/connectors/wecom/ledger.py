"""The WeCom connector's own record of what it handed to WeCom (table `wecom_sends`): one row per
delivery, written *before* the call that makes it (state `calling`) and completed after (the task's
`msgid`, state `awaiting`), then settled (`sent` / `failed`) by the confirmation polling.

It answers three questions: has this delivery's key been made already (so a retry makes no second
task); how many mass sends has a customer had in the current period (the quota ledger, DESIGN §20);
and which tasks still await their staff member's tap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import delete, func, insert, select, update

from ...store import schema as t

if TYPE_CHECKING:
    from ...store import Store

# WeCom counts a customer's mass sends by its own calendar, China Standard Time.
WECOM_TIMEZONE = ZoneInfo("Asia/Shanghai")
CALLING, AWAITING, SENT, FAILED = "calling", "awaiting", "sent", "failed"
# Mass sends that count against a customer's quota: handed over, waiting for the tap, or sent.
_COUNTED = (CALLING, AWAITING, SENT)
MASS = "mass"
# A test send's mass send (the editor's 测试发送): made, confirmed and kept as the others, but its
# kind keeps it out of the quota count (only `mass` rows count).
TEST = "test"


class SendRow(msgspec.Struct, frozen=True):
    """One row of `wecom_sends`."""

    key: str
    kind: str
    member_id: str | None
    recipient: str
    sender: str | None
    batch: str
    msgid: str | None
    state: str
    created_at: int
    reminded_at: int | None = None

    @property
    def reference(self) -> str:
        """The delivery's outside reference while it awaits confirmation: the task and recipient."""
        return f"{self.msgid}:{self.recipient}"


def period_start(now: datetime, per: str, timezone: ZoneInfo = WECOM_TIMEZONE) -> datetime:
    """The start of the calendar day, week (from Monday) or month that holds `now`, in `timezone`."""
    local = now.astimezone(timezone).replace(hour=0, minute=0, second=0, microsecond=0)
    if per == "month":
        local = local.replace(day=1)
    elif per == "week":
        local = local - timedelta(days=local.weekday())
    return local


class Ledger:
    """Reads and writes `wecom_sends` in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def find(self, keys: Iterable[str]) -> dict[str, SendRow]:
        """The rows of these delivery keys that exist."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        c = t.wecom_sends.c
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(*_COLUMNS).where(c.key.in_(keys))).all()
        return {r.key: SendRow(*r) for r in rows}

    def begin(self, rows: Sequence[SendRow]) -> None:
        """Write the rows of a call about to be made (state `calling`), replacing any earlier attempt's."""
        if not rows:
            return
        c = t.wecom_sends.c
        with self.store.transaction() as conn:
            conn.execute(delete(t.wecom_sends).where(c.key.in_([r.key for r in rows])))
            conn.execute(insert(t.wecom_sends), [msgspec.structs.asdict(r) for r in rows])

    def forget(self, keys: Iterable[str]) -> None:
        """Drop rows of a call that WeCom answered with an error: it made nothing."""
        keys = list(keys)
        if keys:
            with self.store.transaction() as conn:
                conn.execute(delete(t.wecom_sends).where(t.wecom_sends.c.key.in_(keys)))

    def made(self, keys: Iterable[str], msgid: str | None, state: str, at: int | None = None) -> None:
        """Record the outcome of a call: the task's msgid and the rows' new state."""
        keys = list(keys)
        if not keys:
            return
        values: dict[str, Any] = {"state": state}
        if msgid is not None:
            values["msgid"] = msgid
        if state in (SENT, FAILED):
            values["settled_at"] = at
        with self.store.transaction() as conn:
            conn.execute(update(t.wecom_sends).where(t.wecom_sends.c.key.in_(keys)).values(**values))

    def mass_sends(self, member: str, since: int) -> int:
        """How many mass sends to `member` were made (or are being made) since `since` (µs)."""
        c = t.wecom_sends.c
        stmt = select(func.count()).where(
            c.member_id == member, c.kind == MASS, c.created_at >= since, c.state.in_(_COUNTED)
        )
        with self.store.engine.connect() as conn:
            return conn.execute(stmt).scalar_one()

    def mass_sends_of(self, members: Iterable[str], since: int) -> dict[str, int]:
        """:meth:`mass_sends` of many members at once (0 for those with none)."""
        counted = dict.fromkeys(members, 0)
        c = t.wecom_sends.c
        ids = list(counted)
        with self.store.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                stmt = (
                    select(c.member_id, func.count())
                    .where(c.member_id.in_(ids[start : start + 500]), c.kind == MASS)
                    .where(c.created_at >= since, c.state.in_(_COUNTED))
                    .group_by(c.member_id)
                )
                counted.update(dict(conn.execute(stmt).tuples().all()))
        return counted

    def awaiting_tasks(self) -> dict[str, int]:
        """Each task with recipients still awaiting confirmation: msgid → when it was made (µs)."""
        c = t.wecom_sends.c
        stmt = select(c.msgid, func.min(c.created_at)).where(c.state == AWAITING).group_by(c.msgid)
        with self.store.engine.connect() as conn:
            return {msgid: at for msgid, at in conn.execute(stmt) if msgid is not None}

    def awaiting(self, msgid: str) -> list[SendRow]:
        """The task's rows still awaiting confirmation."""
        c = t.wecom_sends.c
        stmt = select(*_COLUMNS).where(c.msgid == msgid, c.state == AWAITING).order_by(c.key)
        with self.store.engine.connect() as conn:
            return [SendRow(*r) for r in conn.execute(stmt)]

    def claim_reminder(self, msgid: str, at: int) -> bool:
        """Mark the task reminded; true for the one caller (of any process) that marked it first."""
        c = t.wecom_sends.c
        with self.store.transaction() as conn:
            done = conn.execute(
                update(t.wecom_sends)
                .where(c.msgid == msgid, c.state == AWAITING, c.reminded_at.is_(None))
                .values(reminded_at=at)
            ).rowcount
        return bool(done)

    # -- a group's join way -----------------------------------------------------------------------

    def join_way(self, group: str) -> str | None:
        """The kept join link (QR code URL) of `group`, if one was made."""
        c = t.wecom_join_ways.c
        with self.store.engine.connect() as conn:
            return conn.execute(select(c.qr_code).where(c.group_id == group)).scalar()

    def keep_join_way(self, group: str, config_id: str, qr_code: str, at: int) -> str:
        """Keep a group's join way; if another process kept one first, that one wins. The link kept."""
        c = t.wecom_join_ways.c
        with self.store.transaction() as conn:
            kept = conn.execute(select(c.qr_code).where(c.group_id == group)).scalar()
            if kept is not None:
                return kept
            row = {"group_id": group, "config_id": config_id, "qr_code": qr_code, "created_at": at}
            conn.execute(insert(t.wecom_join_ways).values(**row))
        return qr_code


def mass_send_usage(store: Store, member: str, count: int, per: str, now: datetime) -> tuple[int, int]:
    """The member's mass sends in the current period of the corp's limit, and the limit: for the
    member page ("本月已群发 1/1 条")."""
    since = period_start(now, per)
    return Ledger(store).mass_sends(member, int(since.timestamp() * 1_000_000)), count


_COLUMNS = [
    t.wecom_sends.c[name]
    for name in (
        "key",
        "kind",
        "member_id",
        "recipient",
        "sender",
        "batch",
        "msgid",
        "state",
        "created_at",
        "reminded_at",
    )
]

__all__ = ["MASS", "TEST", "Ledger", "SendRow", "mass_send_usage", "period_start"]
