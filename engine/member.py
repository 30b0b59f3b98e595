"""A member as the engine holds it during a batch: plain data, changed by steps, written once."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta


class Member:
    """One community member. Steps change it through its methods; `dirty` tells the store."""

    # The fields a template or condition may read (see engine.fields.resolve).
    FIELDS = frozenset(
        {
            "id",
            "name",
            "points",
            "total_spend",
            "order_count",
            "grade",
            "stage",
            "channel",
            "tags",
            "groups",
            "blacklisted",
            "attributes",
        }
    )
    __slots__ = (
        "id",
        "name",
        "channel",
        "tags",
        "groups",
        "attributes",
        "points",
        "total_spend",
        "order_count",
        "grade",
        "stage",
        "blacklisted",
        "first_seen",
        "last_message_at",
        "dirty",
        "is_new",
        "tags_added",
        "stored_groups",
        "stored",
    )

    def __init__(
        self,
        id: str,
        name: str | None = None,
        channel: str | None = None,
        tags: list[str] | None = None,
        groups: list[str] | None = None,
        attributes: dict[str, Any] | None = None,
        points: int = 0,
        total_spend: float = 0,
        order_count: int = 0,
        grade: str | None = None,
        stage: str | None = None,
        blacklisted: bool = False,
        first_seen: int = 0,
        last_message_at: int | None = None,
        is_new: bool = False,
    ) -> None:
        self.id = id
        self.name = name
        self.channel = channel
        self.tags = tags if tags is not None else []
        self.groups = groups if groups is not None else []
        self.attributes = attributes if attributes is not None else {}
        self.points = points
        self.total_spend = total_spend
        self.order_count = order_count
        self.grade = grade
        self.stage = stage
        self.blacklisted = blacklisted
        self.first_seen = first_seen
        self.last_message_at = last_message_at
        self.is_new = is_new
        # The groups as the store has them, to count group sizes beside in-batch changes.
        self.stored_groups: tuple[str, ...] = () if is_new else tuple(self.groups)
        self.dirty = is_new
        # The member's columns as the store has them (see engine.store.rows.MEMBER_COLUMNS), when
        # known: only the columns that differ are written back.
        self.stored: tuple[Any, ...] | None = None
        # Tags added since the engine last looked: they fire `tag_added` triggers.
        self.tags_added: list[str] = []

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
        elif field in ("name", "channel", "grade", "stage", "points", "total_spend", "order_count"):
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


class MemberRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A member as imported (`--members`, `qunflow import`)."""

    id: Annotated[str, Meta(min_length=1, max_length=200)]
    name: str | None = None
    channel: str | None = None
    tags: list[str] = []
    attributes: dict[str, Any] = {}
    groups: list[str] = []
    points: Annotated[int, Meta(ge=0)] = 0
    total_spend: Annotated[float, Meta(ge=0)] = 0
    order_count: Annotated[int, Meta(ge=0)] = 0
    grade: Literal["S", "A", "B", "C"] | None = None
    stage: Literal["prospect", "customer", "member", "koc"] | None = None
    blacklisted: bool = False

    def to_member(self, first_seen: int) -> Member:
        return Member(
            self.id,
            name=self.name,
            channel=self.channel,
            tags=list(dict.fromkeys(self.tags)),
            groups=list(dict.fromkeys(self.groups)),
            attributes=dict(self.attributes),
            points=self.points,
            total_spend=self.total_spend,
            order_count=self.order_count,
            grade=self.grade,
            stage=self.stage,
            blacklisted=self.blacklisted,
            first_seen=first_seen,
            is_new=True,
        )


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
