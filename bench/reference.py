"""The reference journey W (DESIGN §13) as data both sides of the comparison share.

W: member_joined → add tag `new` → wait 1 day → coupon → active? → VIP invite / nudge.
Every member joins the fans group at T0 (so every run is due at the same moment, T0 + 1 day); the
even-numbered half post a message at T0 + 12 h, so they are active at the wake and go to the VIP pool.

The VIP pool: the template's two groups of 200 would send all but 400 active members to port
`full`, which would make "exactly one invite or nudge" trivially false. The bench copy of W uses a pool
of `vip-1 … vip-K` with K = N / 400 + 1, enough room for every active member, so every member gets
exactly one coupon and exactly one of invite / nudge.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from qunflow.flows import load_template

FLOW_ID = "welcome-vip"
FANS_GROUP = "g-fans-1"
COUPON = "welcome-10"
CAPACITY = 200
WAIT = timedelta(days=1)
T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
CHAT_AT = T0 + timedelta(hours=12)
WAKE_AT = T0 + WAIT
NUDGE = "{name}，群里今天有新活动哦"


def member_id(index: int) -> str:
    return f"m-{index:07d}"


def member_name(index: int) -> str:
    return f"成员{index}"


def is_active(index: int) -> bool:
    return index % 2 == 0


def vip_pool(members: int) -> list[str]:
    return [f"vip-{k}" for k in range(1, members // (2 * CAPACITY) + 2)]


def bench_flow(members: int) -> dict[str, Any]:
    """The `welcome-vip` template with a VIP pool large enough for `members`."""
    document = copy.deepcopy(load_template(FLOW_ID))
    for node in document["nodes"]:
        if node["type"] == "action.invite_to_group":
            node["config"] = {"groups": vip_pool(members), "capacity": CAPACITY}
    return document


def join_event(index: int) -> dict[str, Any]:
    return {
        "id": f"join-{index}",
        "type": "member_joined",
        "member": member_id(index),
        "group": FANS_GROUP,
        "channel": "qr-bench",
        "at": T0,
        "profile": {"name": member_name(index)},
    }


def chat_event(index: int) -> dict[str, Any]:
    return {
        "id": f"msg-{index}",
        "type": "message",
        "member": member_id(index),
        "group": FANS_GROUP,
        "at": CHAT_AT,
        "data": {"text": "大家好"},
    }


def outcome_problems(members: int, kinds_by_member: dict[str, dict[str, int]]) -> list[str]:
    """Why exactly-once does not hold (empty when it does): every member exactly one coupon and
    exactly one of invite / nudge, active members the invite."""
    problems = []
    for index in range(members):
        mid = member_id(index)
        kinds = kinds_by_member.get(mid, {})
        wanted = "invite" if is_active(index) else "message"
        other = "message" if wanted == "invite" else "invite"
        if kinds.get("coupon", 0) != 1 or kinds.get(wanted, 0) != 1 or kinds.get(other, 0) != 0:
            problems.append(f"{mid}: {dict(sorted(kinds.items()))}")
    extra = set(kinds_by_member) - {member_id(i) for i in range(members)}
    problems.extend(f"{mid}: unexpected deliveries" for mid in sorted(extra))
    return problems
