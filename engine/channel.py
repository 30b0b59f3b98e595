"""A channel (渠道, DESIGN §17): where members come from — a channel QR code (渠道活码), an article, an
event — named by the id members carry in `member.channel`, with what it cost the operator."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from .limits import MAX_MONEY
from .member import Label, Text


class ChannelRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A channel as the channels page and `PUT /api/channels/{id}` keep it."""

    id: Label
    name: Text | None = None
    # What the channel cost in all (printing, ads, prizes), in the currency revenue is counted in.
    cost: Annotated[float, Meta(ge=0, le=MAX_MONEY)] = 0


__all__ = ["ChannelRecord"]
