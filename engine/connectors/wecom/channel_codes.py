"""Channel codes (DESIGN §20): a channel's 渠道活码 (`add_contact_way`, `state` = the channel id, so
each add arrives tagged with its channel) and a group's join code (`groupchat/add_join_way`). Each
is made once and kept: a code already printed on a poster must keep working, and asking again shows
the kept one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import select

from ...errors import UserError
from ...store import schema as t
from ...store.rows import from_json, to_json

STATE_MAX = 30  # WeCom's limit on a contact way's `state` (path 92228)
STAFF_MAX = 100  # staff one contact way may add


class ContactWay(msgspec.Struct, frozen=True):
    """A channel's 渠道活码: scanned, it adds one of `staff`, and the add's `State` is `channel`."""

    channel: str
    config_id: str
    qr_code: str
    staff: list[str]
    created_at: int


class JoinWay(msgspec.Struct, frozen=True):
    """A customer group's join code (加入群聊二维码)."""

    group: str
    config_id: str
    qr_code: str
    created_at: int


def check_contact_way(channel: str, staff: Sequence[str]) -> list[str]:
    """The staff list to make a code with; :class:`UserError` naming the field when it cannot be."""
    if not channel or len(channel) > STATE_MAX:
        raise UserError(f"channel: 1 to {STATE_MAX} characters, the most a WeCom code carries (渠道 ID 过长)")
    chosen = [s for s in dict.fromkeys(staff) if isinstance(s, str) and s]
    if not chosen or len(chosen) != len(staff) or len(chosen) > STAFF_MAX:
        raise UserError(f"staff: 1 to {STAFF_MAX} staff ids, each once (请选择员工)")
    return chosen


def contact_way_of(store: Any, channel: str) -> ContactWay | None:
    c = t.wecom_contact_ways.c
    with store.engine.connect() as conn:
        row = conn.execute(select(t.wecom_contact_ways).where(c.channel == channel)).first()
    return _contact_way(row) if row is not None else None


def contact_ways(store: Any) -> list[ContactWay]:
    """Every channel code made, by channel."""
    c = t.wecom_contact_ways.c
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.wecom_contact_ways).order_by(c.channel)).all()
    return [_contact_way(r) for r in rows]


def keep_contact_way(store: Any, way: ContactWay) -> ContactWay:
    """Keep a channel's code; if another request kept one first, that one wins and is returned."""
    row = msgspec.to_builtins(way) | {"staff": to_json(way.staff)}
    with store.transaction() as conn:
        stmt = store._insert(t.wecom_contact_ways).values(**row)
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["channel"]))
    kept = contact_way_of(store, way.channel)
    assert kept is not None
    return kept


def join_way_of(store: Any, group: str) -> JoinWay | None:
    c = t.wecom_join_ways.c
    with store.engine.connect() as conn:
        row = conn.execute(select(t.wecom_join_ways).where(c.group_id == group)).first()
    return JoinWay(row.group_id, row.config_id, row.qr_code, row.created_at) if row is not None else None


def _contact_way(row: Any) -> ContactWay:
    return ContactWay(row.channel, row.config_id, row.qr_code, from_json(row.staff, []), row.created_at)


__all__ = [
    "ContactWay",
    "JoinWay",
    "check_contact_way",
    "contact_way_of",
    "contact_ways",
    "join_way_of",
    "keep_contact_way",
]
