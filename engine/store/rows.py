"""How members, runs, events and deliveries map to table rows (and back)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from ..member import ACTIVITY, KEY, PROFILE, Member
from ..record import Field, generate, names
from ..rollup import MemberFacts, member_facts
from ..run import IDENTITY, STATE, Run

_encode = msgspec.json.encode
_decode = msgspec.json.decode


def to_json(value: Any) -> str | None:
    return _encode(value).decode() if value else None


def from_json(text: str | None, default: Any) -> Any:
    return _decode(text) if text else default


EVENT_COLUMNS = ("seq", "id", "type", "member_id", "group_id", "channel", "at", "data")
DELIVERY_COLUMNS = (
    "id",
    "key",
    "flow_id",
    "node",
    "run_id",
    "member_id",
    "kind",
    "payload",
    "at",
    "status",
    "attempts",
    "next_attempt_at",
    "touch",
)
# Members: what a write sets (the profile and the activity; `first_seen` only when the row is made),
# and what a read takes, in that order.
MEMBER_COLUMNS = (*names(PROFILE), *(f.name for f in ACTIVITY if f.name != "first_seen"))
MEMBER_FIELDS = ("id", "first_seen", *MEMBER_COLUMNS)
# Runs: what a step sets (its state, and it ends any lease), and what a read takes, in that order.
LEASE_COLUMNS = ("lease_owner", "lease_until")
RUN_COLUMNS = (*names(STATE), *LEASE_COLUMNS)
RUN_FIELDS = (*names(IDENTITY), *RUN_COLUMNS)
# A new run holds no lease, so its insert leaves the lease columns out: the sqlite3 driver binds a
# NULL at three times the cost of an int.
NEW_RUN_COLUMNS = (*names(STATE), *names(IDENTITY))


def _row_function(name: str, fields: Sequence[Field], tail: str = "") -> Callable[[Any], tuple[Any, ...]]:
    """`name(o)`: the fields of `o` as a row, lists and objects as JSON text (then `tail`)."""
    values = ", ".join(f"_to_json(o.{f.name})" if f.json else f"o.{f.name}" for f in fields)
    return generate(name, f"def {name}(o):\n    return ({values},{tail})\n", _NAMESPACE)


def _object_function(
    name: str, cls: type, columns: Sequence[str], fields: Sequence[Field], stored: int
) -> Callable[[Sequence[Any]], Any]:
    """`name(row)`: a `cls` from a row of `columns`, given its `fields` by position (JSON decoded,
    flags as bools, since SQLite gives them as 0 or 1), with `stored` set to the row from `stored` on."""

    def loaded(f: Field) -> str:
        if f.json:
            return f"(_decode(_{f.name}) if _{f.name} else None)"
        return f"bool(_{f.name})" if f.column == "bool" else f"_{f.name}"

    source = (
        f"def {name}(row):\n"
        f"    {', '.join('_' + c for c in columns)}, = row\n"
        f"    made = {cls.__name__}({', '.join(loaded(f) for f in fields)})\n"
        f"    made.stored = tuple(row[{stored}:])\n"
        "    return made\n"
    )
    return generate(name, source, _NAMESPACE)


_NAMESPACE = {"_to_json": to_json, "_decode": _decode, "Member": Member, "Run": Run}
_ACTIVITY_WRITTEN = [f for f in ACTIVITY if f.name in MEMBER_COLUMNS]

# Built by position, generated from the declarations: a batch builds and writes hundreds.
member_values = _row_function("member_values", [*PROFILE, *_ACTIVITY_WRITTEN])
member_values.__doc__ = "A member's values in the order of `MEMBER_COLUMNS`."
member_from_row = _object_function("member_from_row", Member, MEMBER_FIELDS, [KEY, *PROFILE, *ACTIVITY], 2)
member_from_row.__doc__ = "A member from the columns of `MEMBER_FIELDS`, in that order."
# A step ends any lease.
run_values = _row_function("run_values", STATE, " None, None")
run_values.__doc__ = "A run's values in the order of `RUN_COLUMNS`, as a step leaves it."
run_insert_values = _row_function("run_insert_values", [*STATE, *IDENTITY])
run_insert_values.__doc__ = "A new run's values in the order of `NEW_RUN_COLUMNS`."
run_from_values = _object_function("run_from_values", Run, RUN_FIELDS, [*IDENTITY, *STATE], len(IDENTITY))
run_from_values.__doc__ = "A run from the columns of `RUN_FIELDS`, in that order."


def member_row(m: Member) -> dict[str, Any]:
    """`member_values` by column name."""
    return dict(zip(MEMBER_COLUMNS, member_values(m), strict=True))


def run_from_row(r: Any) -> Run:
    return run_from_values([getattr(r, name) for name in RUN_FIELDS])


def event_from_row(r: Any) -> dict[str, Any]:
    return {
        "seq": r.seq,
        "id": r.id,
        "type": r.type,
        "member": r.member_id,
        "group": r.group_id,
        "channel": r.channel,
        "at": r.at,
        "data": from_json(r.data, {}),
    }


_AT = {name: MEMBER_COLUMNS.index(name) for name in MEMBER_COLUMNS}
_CHANNEL, _STAGE, _SPEND, _ORDERS = _AT["channel"], _AT["stage"], _AT["total_spend"], _AT["order_count"]
_LAST, _LOST = _AT["last_message_at"], _AT["contact_lost_at"]


def stored_facts(m: Member) -> MemberFacts | None:
    """What the rollups counted of a member as the store has it (None: not stored yet)."""
    row = m.stored
    if row is None or m.is_new:
        return None
    return member_facts(
        row[_CHANNEL],
        m.first_seen,
        row[_LOST],
        row[_STAGE],
        row[_SPEND],
        row[_ORDERS],
        row[_LAST],
        m.stored_groups,
    )
