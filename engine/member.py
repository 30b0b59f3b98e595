"""A member as the engine holds it during a batch: plain data, changed by steps, written once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from .config import Grade, Stage
from .limits import MAX_COUNT, MAX_MONEY, MAX_POINTS
from .record import REQUIRED, Field, init_function, names

# A member's profile, declared once: what an import sets, the API shows and paths read
# (`member.points`), in the order of the store's columns. Everything else is made from it: the
# class's slots and `__init__`, `MemberRecord`, the store's columns and rows, the API's view.
KEY = Field("id", Annotated[str, Meta(min_length=1, max_length=200)], REQUIRED, "string:200")
PROFILE: tuple[Field, ...] = (
    Field("name", str | None),
    Field("channel", str | None),
    Field("tags", list[str], [], "json"),
    Field("groups", list[str], [], "json"),
    Field("attributes", dict[str, Any], {}, "json"),
    Field("points", Annotated[int, Meta(ge=0, le=MAX_POINTS)], 0, "bigint"),
    Field("total_spend", Annotated[float, Meta(ge=0, le=MAX_MONEY)], 0, "float"),
    Field("order_count", Annotated[int, Meta(ge=0, le=MAX_COUNT)], 0, "int"),
    Field("grade", Grade | None, None, "string:8"),
    Field("stage", Stage | None, None, "string:20"),
    Field("blacklisted", bool, False, "bool"),
    # The staff account (员工 id) that owns the member: the one they added (DESIGN §20), who sends
    # to them.
    Field("staff", Annotated[str, Meta(min_length=1, max_length=200)] | None, None, "string:200"),
)
# What the engine keeps of a member's activity (never imported): when the store first saw them, when
# they last posted a message, and when they deleted the contact (`contact_deleted`; cleared when they
# add a staff account again).
ACTIVITY: tuple[Field, ...] = (
    Field("first_seen", int, 0, "bigint"),
    Field("last_message_at", int | None, None, "bigint"),
    Field("contact_lost_at", int | None, None, "bigint"),
)


class Member:
    """One community member. Steps change it through its methods; `dirty` tells the store."""

    # The fields a template or condition may read (see engine.fields.resolve).
    FIELDS = frozenset({"id", *names(PROFILE)})
    # What `set` may change: the profile's plain values (tags, groups and attributes have methods of
    # their own, and so does blacklisting).
    SETTABLE = frozenset(f.name for f in PROFILE if not f.json and f.name != "blacklisted")
    __slots__ = (
        "id",
        *names(PROFILE),
        *names(ACTIVITY),
        "dirty",
        "is_new",
        "tags_added",
        "stored_groups",
        "stored",
    )

    # Member(id, *PROFILE, *ACTIVITY, is_new=False), by position or by name.
    __init__ = init_function(
        [KEY, *PROFILE, *ACTIVITY],
        {"is_new": False},
        [
            # The groups as the store has them, to count group sizes beside in-batch changes.
            "self.stored_groups = () if is_new else tuple(self.groups)",
            "self.dirty = is_new",
            # The member's columns as the store has them (engine.store.rows.MEMBER_COLUMNS), when
            # known: only the columns that differ are written back.
            "self.stored = None",
            # Tags added since the engine last looked: they fire `tag_added` triggers.
            "self.tags_added = []",
        ],
    )

    def add_tags(self, tags: list[str]) -> None:
        for tag in tags:
            if tag not in self.tags:
                self.tags.append(tag)
                self.tags_added.append(tag)
                self.dirty = True

    def remove_tags(self, tags: list[str]) -> None:
        kept = [t for t in self.tags if t not in tags]
        if len(kept) != len(self.tags):
            self.tags = kept
            self.dirty = True

    def join_group(self, group: str) -> bool:
        if group in self.groups:
            return False
        self.groups.append(group)
        self.dirty = True
        return True

    def leave_group(self, group: str) -> bool:
        if group not in self.groups:
            return False
        self.groups.remove(group)
        self.dirty = True
        return True

    def set(self, field: str, value: Any) -> None:
        """Set a profile field or `attributes.<key>`."""
        if field.startswith("attributes."):
            key = field.removeprefix("attributes.")
            if self.attributes.get(key, _UNSET) != value:
                self.attributes = {**self.attributes, key: value}
                self.dirty = True
        elif field in self.SETTABLE:
            if getattr(self, field) != value:
                setattr(self, field, value)
                self.dirty = True
        else:
            raise ValueError(f"member field `{field}` cannot be set")

    def summary(self) -> dict[str, Any]:
        """The member as `simulate` reports it (DESIGN §7)."""
        return {
            "tags": sorted(self.tags),
            "points": self.points,
            "grade": self.grade,
            "stage": self.stage,
            "groups": sorted(self.groups),
            "blacklisted": self.blacklisted,
        }


_UNSET = object()


def _to_member(self: Any, first_seen: int) -> Member:
    """The member as the engine holds it, new to the store."""
    values = {f.name: getattr(self, f.name) for f in PROFILE}
    values["tags"] = list(dict.fromkeys(values["tags"]))
    values["groups"] = list(dict.fromkeys(values["groups"]))
    values["attributes"] = dict(values["attributes"])
    return Member(self.id, **values, first_seen=first_seen, is_new=True)


MemberRecord = msgspec.defstruct(
    "MemberRecord",
    [
        ("id", Annotated[str, Meta(min_length=1, max_length=200)]),
        *((f.name, f.type, f.default) for f in PROFILE),
    ],
    namespace={"to_member": _to_member, "__doc__": "A member as imported (`--members`, `qunflow import`)."},
    module=__name__,
    frozen=True,
    forbid_unknown_fields=True,
)


def group_deltas(members: Iterable[Member]) -> dict[str, int]:
    """How each group's member count moves when these members are written."""
    deltas: dict[str, int] = {}
    for member in members:
        before = member.stored_groups
        if not member.dirty or list(before) == member.groups:
            continue
        for group in member.groups:
            if group not in before:
                deltas[group] = deltas.get(group, 0) + 1
        for group in before:
            if group not in member.groups:
                deltas[group] = deltas.get(group, 0) - 1
    return deltas


# Text the database takes: no NUL (PostgreSQL refuses it).
Text = Annotated[str, Meta(max_length=200, pattern=r"^[^\x00]*$")]
Label = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
GROUP_KINDS = ("traffic", "conversion", "fans", "flash_sale", "vip", "other")


class GroupRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A group as registered (`--groups`, `qunflow import`, `POST /api/groups`; DESIGN §15)."""

    id: Label
    name: Text | None = None
    tags: list[Label] = []
    kind: Literal["traffic", "conversion", "fans", "flash_sale", "vip", "other"] | None = None
    # The group's own size cap for `action.invite_to_group` (WeCom customer groups hold up to 2000).
    capacity: Annotated[int, Meta(ge=1, le=2000)] | None = None
    owner: Label | None = None  # a staff id


class StaffRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A staff account (员工, DESIGN §15): adds friends (`action.add_friend`) and owns groups."""

    id: Label
    name: Text | None = None
    # Friend requests this account may send a day (WeCom's rule of thumb: 20).
    daily_friend_limit: Annotated[int, Meta(ge=1, le=1000)] | None = None


TAG_CATEGORIES = ("channel", "behaviour", "growth", "attribute", "other")


class TagRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A tag of the tag library (标签库, DESIGN §15): what it is about, and its colour on the pages."""

    name: Label
    category: Literal["channel", "behaviour", "growth", "attribute", "other"] = "other"
    color: Annotated[str, Meta(pattern=r"^#[0-9a-fA-F]{6}$")] | None = None
