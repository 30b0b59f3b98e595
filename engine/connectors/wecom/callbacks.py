"""WeCom callbacks as events (DESIGN §20's table): the decrypted callback XML in, §6 events out.

The XML is parsed only with `defusedxml`. Each event's id is derived from the callback's content, so a
callback WeCom sends again (it retries when the answer is slow) makes events with the same ids, which
the store takes once. `at` is the callback's `CreateTime`.

What is not an event is said beside the events: a dismissed group (:attr:`Callback.dismissed`), a
group to fetch by sync (:attr:`Callback.groups_to_sync`), and a change of corp tags
(:attr:`Callback.tags_changed`); the callback route acts on those.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element

import msgspec
from defusedxml import ElementTree

from ...errors import EventInvalid
from ...event import Event, Profile, convert_events
from .crypto import MalformedCallback

# `fetch_profile(external_userid)`: the customer's profile as `externalcontact/get` tells it (see
# :func:`profile_from_external_contact`), or None when it cannot be had (quickly).
FetchProfile = Callable[[str], Profile | None]

ADD = ("add_external_contact", "add_half_external_contact")


class Callback(msgspec.Struct):
    """What one callback means: the events to ingest and the other things to do."""

    kind: str  # `Event` / `ChangeType` (/ `UpdateDetail`), for logs and tests
    events: list[Event] = []
    dismissed: list[tuple[str, datetime]] = []  # (group id, when)
    groups_to_sync: list[str] = []
    tags_changed: bool = False


def parse_callback(xml: str | bytes) -> Element:
    """The callback's root element; :class:`MalformedCallback` when it is not XML (entities and
    DTDs are refused by `defusedxml`)."""
    try:
        return ElementTree.fromstring(xml)
    except Exception as error:  # ParseError, and defusedxml's own refusals
        raise MalformedCallback("the callback message is not XML") from error


def callback_events(xml: str | bytes, fetch_profile: FetchProfile | None = None) -> Callback:
    """The events a decrypted callback stands for (DESIGN §20). A callback this table does not name
    (another `Event`, a plain message to the app) yields nothing, so WeCom can be answered at once.
    Raises :class:`MalformedCallback` when a field the row needs is missing or wrong."""
    root = parse_callback(xml)
    text = _reader(root)
    event, change = text("Event"), text("ChangeType")
    kind = "/".join(p for p in (event, change) if p)
    if text("MsgType") not in (None, "event"):
        return Callback(kind or "message")
    digest = _digest(root)
    at = _moment(text("CreateTime"))

    def made(suffix: str = "", **fields: Any) -> Event:
        return _event(f"wecom-{_short(digest, suffix)}", at, fields)

    if event == "change_external_contact":
        staff, customer = text("UserID"), text("ExternalUserID")
        if change in ADD + ("edit_external_contact", "del_external_contact", "del_follow_user"):
            _need(customer, "ExternalUserID")
        if change in ADD:
            half = True if change == "add_half_external_contact" else None
            data = _present(staff=staff, welcome_code=text("WelcomeCode"), half=half)
            return Callback(
                kind, [made(type="contact_added", member=customer, channel=text("State"), data=data)]
            )
        if change == "edit_external_contact":
            profile = fetch_profile(customer) if fetch_profile is not None else None  # type: ignore[arg-type]
            fields: dict[str, Any] = {
                "type": "member_updated",
                "member": customer,
                "data": _present(staff=staff),
            }
            if profile is not None:
                fields["profile"] = msgspec.to_builtins(profile)
            return Callback(kind, [made(**fields)])
        if change in ("del_external_contact", "del_follow_user"):
            by = "staff" if change == "del_external_contact" else "customer"
            # `source`: e.g. DELETE_BY_TRANSFER when a colleague took the customer over
            data = _present(by=by, staff=staff, source=text("Source"))
            return Callback(kind, [made(type="contact_deleted", member=customer, data=data)])
        return Callback(kind)

    if event == "change_external_chat":
        chat = text("ChatId")
        _need(chat, "ChatId")
        if change == "create":
            return Callback(kind, [made(type="group_created", group=chat)], groups_to_sync=[chat])
        if change == "dismiss":
            return Callback(kind, [made(type="group_dismissed", group=chat)], dismissed=[(chat, at)])
        if change == "update":
            detail = text("UpdateDetail")
            kind = f"{kind}/{detail}"
            if detail not in ("add_member", "del_member"):
                return Callback(kind, groups_to_sync=[chat])  # a name, owner or notice change
            joined = detail == "add_member"
            scene_name, scene = (
                ("join_scene", text("JoinScene")) if joined else ("quit_scene", text("QuitScene"))
            )
            data = {scene_name: _number(scene)} if scene is not None else {}
            events = [
                made(
                    member,
                    type="member_joined" if joined else "member_left",
                    member=member,
                    group=chat,
                    data=data,
                )
                for member in changed_members(root)
                if is_external(member)
            ]
            return Callback(kind, events)
        return Callback(kind)

    if event == "change_external_tag":
        return Callback(kind, tags_changed=True)
    return Callback(kind)


def changed_members(root: Element) -> list[str]:
    """The user ids in `MemChangeList`, in either shape WeCom has shipped:

    - `<MemChangeList><![CDATA[id1,id2]]></MemChangeList>`, one comma-separated text (the older
      shape), and
    - `<MemChangeList><Item><![CDATA[id1]]></Item>...</MemChangeList>`, one `Item` per member (the
      current shape, as WeCom's callback documentation shows it).

    Open-source SDKs accept both: WxJava's `XStreamCDataListConverter` (weixin-java-common, "兼容两种
    格式": the CDATA list before its 4.8.0, `<Item>` since) and SKIT.FlurlHttpClient.Wechat.Work's
    `ChangeExternalChatEvent.Types.MemberChangedList` (`<Item>` elements). An `Item` that carries its
    member in a child (`<Item><UserID>…</UserID></Item>`) is read too, should WeCom add fields."""
    node = root.find("MemChangeList")
    if node is None:
        return []
    found: list[str] = []
    items = node.findall("Item")
    if items:
        for item in items:
            value = (item.text or "").strip() or (
                item.findtext("UserID") or item.findtext("UserId") or ""
            ).strip()
            if value:
                found.append(value)
    else:
        found = [part.strip() for part in (node.text or "").split(",") if part.strip()]
    return list(dict.fromkeys(found))


def is_external(user_id: str) -> bool:
    """Whether a group member id is a customer's (an `external_userid`), not a staff member's: WeCom
    gives external contacts ids that begin with `wm` or `wo`, while staff
    user ids are the corp's own account names."""
    return user_id.startswith(("wm", "wo"))


def profile_from_external_contact(body: dict[str, Any]) -> Profile | None:
    """A §6 profile from an `externalcontact/get` answer: the customer's name, and their gender, corp
    and type as attributes (what the member page and conditions can read)."""
    contact = body.get("external_contact")
    if not isinstance(contact, dict):
        return None
    attributes = {
        key: contact[source]
        for key, source in (("gender", "gender"), ("corp_name", "corp_name"), ("wecom_type", "type"))
        if contact.get(source) not in (None, "")
    }
    name = contact.get("name")
    return Profile(name=name if isinstance(name, str) and name else None, attributes=attributes or None)


# ----- helpers


def _reader(root: Element) -> Callable[[str], str | None]:
    def text(tag: str) -> str | None:
        value = root.findtext(tag)
        return value.strip() if value is not None and value.strip() else None

    return text


def _digest(root: Element) -> str:
    """A hash of the callback's content (every element's tag and text, in order), the same for each
    of WeCom's retries of one callback whatever the whitespace."""
    h = hashlib.sha256()
    for element in root.iter():
        h.update(element.tag.encode())
        h.update(b"\x00")
        h.update((element.text or "").strip().encode())
        h.update(b"\x01")
    return h.hexdigest()


def _short(digest: str, suffix: str) -> str:
    if not suffix:
        return digest[:40]
    return hashlib.sha256(f"{digest}\x00{suffix}".encode()).hexdigest()[:40]


def _moment(create_time: str | None) -> datetime:
    try:
        return datetime.fromtimestamp(int(create_time or ""), UTC)
    except (ValueError, OverflowError, OSError):
        raise MalformedCallback("the callback's CreateTime is not a time") from None


def _present(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _need(value: str | None, field: str) -> None:
    if not value:
        raise MalformedCallback(f"the callback has no {field}")


def _number(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text


def _event(event_id: str, at: datetime, fields: dict[str, Any]) -> Event:
    raw = {"id": event_id, "at": at.isoformat(), **{k: v for k, v in fields.items() if v is not None}}
    try:
        return convert_events(raw)[0]
    except EventInvalid as error:  # an id too long, a time out of range
        raise MalformedCallback(f"the callback makes no valid event: {error}") from None


__all__ = [
    "Callback",
    "FetchProfile",
    "callback_events",
    "changed_members",
    "is_external",
    "parse_callback",
    "profile_from_external_contact",
]
