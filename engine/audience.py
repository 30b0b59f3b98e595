"""Audiences (DESIGN §5): which members a scheduled trigger or a broadcast reaches.

Every given filter must hold; an audience with no filter is every member the store knows.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from .config import Config, Grade, Names, Stage
from .member import Member

DAY_US = 86_400 * 1_000_000

Labels = Annotated[Names, Meta(min_length=1)]


class Audience(Config):
    tags_all: Labels | None = None
    tags_any: Labels | None = None
    tags_none: Labels | None = None
    # Members in any of these groups.
    groups: Labels | None = None
    grades: Annotated[list[Grade], Meta(min_length=1)] | None = None
    stages: Annotated[list[Stage], Meta(min_length=1)] | None = None
    # No `message` event for at least this many days (counted from first seen if they never posted).
    inactive_days: Annotated[int, Meta(ge=1, le=3650)] | None = None
    min_spend: Annotated[float, Meta(ge=0)] | None = None
    max_spend: Annotated[float, Meta(ge=0)] | None = None

    def __post_init__(self) -> None:
        if self.min_spend is not None and self.max_spend is not None and self.min_spend > self.max_spend:
            raise ValueError("`min_spend` is above `max_spend`")

    def inactive_since(self, now_us: int) -> int | None:
        """The latest last-activity time a member may have to count as inactive, if that filter is set."""
        return None if self.inactive_days is None else now_us - self.inactive_days * DAY_US

    def matches(self, member: Member, now_us: int) -> bool:
        """Whether the member is in the audience at `now_us`."""
        if self.grades is not None and member.grade not in self.grades:
            return False
        if self.stages is not None and member.stage not in self.stages:
            return False
        if self.min_spend is not None and member.total_spend < self.min_spend:
            return False
        if self.max_spend is not None and member.total_spend > self.max_spend:
            return False
        cutoff = self.inactive_since(now_us)
        if cutoff is not None:
            last = member.last_message_at if member.last_message_at is not None else member.first_seen
            if last > cutoff:
                return False
        tags = member.tags
        if self.tags_all is not None and not all(t in tags for t in self.tags_all):
            return False
        if self.tags_any is not None and not any(t in tags for t in self.tags_any):
            return False
        if self.tags_none is not None and any(t in tags for t in self.tags_none):
            return False
        return self.groups is None or any(g in member.groups for g in self.groups)


__all__ = ["Audience"]
