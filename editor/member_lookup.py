"""The member field of the runs and deliveries filters (issue #15): an operator names a member, the
filter needs her id.

With scripts on, the field picks a member by name and the form sends her id. Without them, or when
the operator types and presses Enter, the field sends what was typed and the server looks it up here:
a member's id is taken as it is; otherwise a name that is one member's whole name, else the only
member whose name or id holds the text. When several fit, the page lists them by name to pick from.
"""

from __future__ import annotations

from dataclasses import dataclass

from qunflow.engine.errors import NotFound
from qunflow.engine.member import Member

from .services import Services

# How many members a "which one?" answer lists; one more is looked up to know whether there are more.
CHOICES_SHOWN = 10


@dataclass(frozen=True)
class MemberLookup:
    """What the member field asked for. `member_id` is the id to filter by (None: filter by no member,
    or, with `choices`, by nobody until the operator picks one). `unknown`: no member has that id or a
    name like it — the text is still tried as an id, since runs and deliveries keep ids the member
    list may not have."""

    typed: str = ""
    member_id: str | None = None
    name: str | None = None
    choices: tuple[Member, ...] = ()
    # `choices` are members with exactly the name typed (else members whose name or id holds it).
    exact: bool = False
    # More members fit than `choices` lists.
    more: bool = False
    unknown: bool = False

    @property
    def found(self) -> bool:
        """The field names one member the store knows."""
        return self.member_id is not None and not self.unknown

    @property
    def label(self) -> str:
        """What the field and the filter summary show: her name, else her id, else what was typed."""
        if self.found:
            return self.name or self.member_id or ""
        return self.typed

    @property
    def which(self) -> bool:
        """Several members fit: the page asks which one, and lists no rows until then."""
        return bool(self.choices)


def look_up_member(services: Services, typed: str | None) -> MemberLookup:
    """Resolve the member field's text (see the module's docstring). Reads the store: call it off the
    loop."""
    text = (typed or "").strip()
    if not text:
        return MemberLookup()
    store = services.store
    try:
        member = store.get_member(text)
    except NotFound:
        pass
    else:
        return MemberLookup(text, member.id, member.name)
    named = store.members_named(text, limit=CHOICES_SHOWN + 1)
    found = named or store.member_page(text, limit=CHOICES_SHOWN + 1)
    if len(found) == 1:
        return MemberLookup(text, found[0].id, found[0].name)
    if found:
        return MemberLookup(
            text, choices=tuple(found[:CHOICES_SHOWN]), exact=bool(named), more=len(found) > CHOICES_SHOWN
        )
    return MemberLookup(text, member_id=text, unknown=True)


__all__ = ["CHOICES_SHOWN", "MemberLookup", "look_up_member"]
