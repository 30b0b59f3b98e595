"""Changes a person makes to members (DESIGN §15): tags added or removed, the blacklist set or lifted.

A change is carried by a `member_edited` event that the web app makes (never one posted from
outside): the engine applies it like any event — so a tag added by hand fires `tag_added` triggers —
and the member's timeline shows it with who made it (`data.by`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from .member import Label, Member

EDITED = "member_edited"


class Edit(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """What changes: tags to add, tags to remove, and the blacklist to set (True) or lift (False)."""

    add_tags: list[Label] = []
    remove_tags: list[Label] = []
    blacklist: bool | None = None

    def empty(self) -> bool:
        return not self.add_tags and not self.remove_tags and self.blacklist is None


def apply_edit(member: Member, data: dict[str, Any]) -> None:
    """Apply a `member_edited` event's change (its data: an `Edit` and `by`)."""
    edit = msgspec.convert({k: v for k, v in data.items() if k != "by"}, Edit)
    member.remove_tags(list(edit.remove_tags))
    member.add_tags(list(edit.add_tags))
    if edit.blacklist is not None and member.blacklisted != edit.blacklist:
        member.blacklisted = edit.blacklist
        member.dirty = True
