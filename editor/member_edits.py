"""People's changes to members (DESIGN §15): tags, the blacklist, and many members at once.

Each change becomes a `member_edited` event (see `engine.edits`) for each member it touches, taken in
by the engine in one go: the member's timeline shows it with who made it, and a tag added here fires
`tag_added` triggers like any other. Members that do not exist are refused (404 naming them) before
anything is changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated

import msgspec
from msgspec import Meta

from qunflow.engine.edits import EDITED, Edit
from qunflow.engine.errors import NotFound, UserError
from qunflow.engine.event import Event
from qunflow.engine.member import Label

from .services import Services

BULK_MAX = 1000


class BulkEdit(msgspec.Struct, forbid_unknown_fields=True):
    """`POST /api/members/bulk`: the members, and what changes for each of them."""

    members: Annotated[list[Label], Meta(min_length=1, max_length=BULK_MAX)]
    add_tags: list[Label] = []
    remove_tags: list[Label] = []
    blacklist: bool | None = None

    def edit(self) -> Edit:
        return Edit(list(self.add_tags), list(self.remove_tags), self.blacklist)


class Edited(msgspec.Struct):
    changed: int


def edit_members(services: Services, member_ids: Sequence[str], edit: Edit, by: str) -> int:
    """Apply `edit` to each member, recorded as made by `by`; returns how many members it touched."""
    if edit.empty():
        raise UserError("nothing to change: give add_tags, remove_tags or blacklist (没有要修改的内容)")
    ids = list(dict.fromkeys(member_ids))
    with services.store.engine.connect() as conn:
        known = services.store.load_members(conn, ids)
    missing = [i for i in ids if i not in known]
    if missing:
        shown = ", ".join(missing[:10]) + (f" (and {len(missing) - 10} more)" if len(missing) > 10 else "")
        raise NotFound(f"members: no member {shown} (没有这些成员)")
    now = services.clock.now()
    change = {"by": by, **msgspec.to_builtins(edit)}
    stamp = uuid.uuid4().hex[:12]
    events = [
        Event(id=f"edit-{stamp}-{n}", type=EDITED, at=now, member=member_id, data=change)
        for n, member_id in enumerate(ids)
    ]
    services.write(services.engine.ingest, events)
    return len(ids)
