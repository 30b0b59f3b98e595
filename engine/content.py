"""The content library (话术库 / 素材库, DESIGN §15): scripts and material that message nodes send by id.

An item is text (a template with §5 placeholders), an image, a link card, a mini-program card, a file
or a video. Nodes name an item with a `ContentRef` setting: validation and publishing refuse an id the
library does not hold, and a delivery carries the item itself.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from .fields import Template, template_problems
from .member import Label, Text

# A setting that names a content item (as `action.send_message`'s `content`).
ContentRef = Annotated[str, Meta(min_length=1, max_length=200, extra_json_schema={"format": "content-id"})]
Url = Annotated[str, Meta(max_length=2000, pattern=r"^https?://[^\s\x00]+$")]
CONTENT_KINDS = ("text", "image", "link", "miniprogram", "file", "video")
# The part each kind needs besides its title.
_NEEDS = {"text": "text", "image": "media", "file": "media", "video": "media", "link": "link",
          "miniprogram": "miniprogram"}  # fmt: skip


class Media(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    url: Url
    name: Text | None = None


class LinkCard(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    url: Url
    title: Label
    description: Annotated[str, Meta(max_length=1000, pattern=r"^[^\x00]*$")] | None = None
    image: Url | None = None


class MiniProgram(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    appid: Annotated[str, Meta(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_]+$")]
    page: Annotated[str, Meta(min_length=1, max_length=1000, pattern=r"^[^\s\x00]+$")]
    title: Label
    image: Url | None = None


class ContentItem(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One item of the library. `text` goes with any kind (a caption); the others need their part:
    `media` for image, file and video, `link` for link, `miniprogram` for miniprogram."""

    id: Label
    title: Label
    kind: Literal["text", "image", "link", "miniprogram", "file", "video"] = "text"
    text: Template | None = None
    media: Media | None = None
    link: LinkCard | None = None
    miniprogram: MiniProgram | None = None

    def __post_init__(self) -> None:
        needed = _NEEDS[self.kind]
        if getattr(self, needed) is None:
            raise ValueError(f"an item of kind `{self.kind}` needs `{needed}`")
        problems = template_problems(self.text) if self.text is not None else []
        if problems:
            raise ValueError(f"`text`: {problems[0]}")

    def payload(self) -> dict[str, Any]:
        """The item as a delivery carries it: `{id, kind, title, ...its parts}`."""
        return {k: v for k, v in msgspec.to_builtins(self).items() if v is not None}


def content_problems(item: ContentItem | None, ref: str) -> list[str]:
    """Why a node cannot send the item `ref` (None: the library has no such item)."""
    if item is None:
        return [f"there is no content item `{ref}` (话术库中没有这一条)"]
    return [f"content `{ref}`: {p}" for p in template_problems(item.text)] if item.text else []


__all__ = [
    "CONTENT_KINDS",
    "ContentItem",
    "ContentRef",
    "LinkCard",
    "Media",
    "MiniProgram",
    "content_problems",
]
