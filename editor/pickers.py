"""What the editor's node forms offer where a setting names community data (DESIGN §15): the stored
groups, staff, tags and content items. Free entry stays possible for things not stored yet."""

from __future__ import annotations

from typing import Any

from .services import Services

PICKER_MAX = 2000


def community_choices(services: Services) -> dict[str, list[dict[str, Any]]]:
    """The first `PICKER_MAX` groups, staff, tags and content items, and the named channels, as the
    forms show them."""
    store = services.store
    return {
        # A group's fill (members / its own capacity) shows in a pool's picker, as operators choose by it.
        "groups": [
            {
                "id": g["id"],
                "name": g["name"] or "",
                "fill": f"{g['members']}/{g['capacity'] or '—'}",
                # A preview's sample members may join the group: its tags decide which triggers fire.
                "tags": g["tags"],
            }
            for g in store.list_groups(limit=PICKER_MAX)
        ],
        "staff": [{"id": s.id, "name": s.name or ""} for s in store.list_staff(limit=PICKER_MAX)],
        "tags": [{"name": t.name, "category": t.category} for t in store.list_tags(limit=PICKER_MAX)],
        "content": [i.payload() for i in store.list_content(limit=PICKER_MAX)],
        # The channels operators named (DESIGN §17): a sample member of a preview comes through one.
        "channels": [{"id": c.id, "name": c.name or ""} for c in store.list_channels()],
    }
