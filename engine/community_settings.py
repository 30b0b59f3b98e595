"""Community settings (DESIGN §18): what an admin sets once for every flow of the community.

- `touch_budget` `{"messages", "per"}`: at most `messages` member-addressed `message` deliveries to
  one member, from all flows together, within any sliding window `per` (absent: no budget);
- `approval` `{"min_reach"}`: publishing a flow that would reach at least `min_reach` members waits
  for an admin's approval unless an admin publishes it (absent: no approval);
- `calendar` (`cn` | `none`): the working-day calendar of flows that do not set their own.

They are stored as one row per field (absent field: no row). Every change bumps a version number, so
running processes (the engine of `serve`, each `qunflow worker`) see it without a restart: a batch
compares the number (one small read) and re-reads the rows only when it changed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from msgspec import Meta

from .connectors.settings import SettingInvalid
from .errors import validation_message
from .workdays import CalendarName

if TYPE_CHECKING:
    from .store.protocol import SettingsSource, Tx

VERSION = "community_settings"  # the row of `sequences` that counts changes


class TouchBudget(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The community's cross-flow touch budget (DESIGN §18): at most `messages` member-addressed
    messages to one member within any sliding window `per`."""

    messages: Annotated[int, Meta(ge=1, le=1000)]
    per: timedelta

    def __post_init__(self) -> None:
        if self.per <= timedelta(0):
            raise ValueError("`per` must be a positive duration")


class Approval(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    min_reach: Annotated[int, Meta(ge=1)]


class CommunitySettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    touch_budget: TouchBudget | None = None
    approval: Approval | None = None
    calendar: CalendarName = "cn"


FIELDS = ("touch_budget", "approval", "calendar")
DEFAULT = CommunitySettings()


class CommunitySettingInvalid(SettingInvalid):
    """A community setting is refused; `field` names it (`touch_budget.messages`)."""


def decode_settings(value: Any, where: str = "") -> CommunitySettings:
    """Whole community settings from decoded JSON; a CommunitySettingInvalid naming the field."""
    if not isinstance(value, dict):
        raise CommunitySettingInvalid(where or "settings", "expected a JSON object")
    try:
        return msgspec.convert(value, CommunitySettings)
    except msgspec.ValidationError as error:
        path, message = validation_message(error)
        if "unknown field `" in message:
            path = message.split("unknown field `", 1)[1].split("`", 1)[0]
        elif "required field `" in message:
            missing = message.split("required field `", 1)[1].split("`", 1)[0]
            path = f"{path}.{missing}" if path else missing
        raise CommunitySettingInvalid(path or where or "settings", message) from None


def merged(current: CommunitySettings, change: Any) -> CommunitySettings:
    """`current` with the fields `change` names replaced (a partial PUT): a field given as null is
    removed (no budget, no approval; the calendar back to `cn`), a field left out is kept."""
    if not isinstance(change, dict):
        raise CommunitySettingInvalid("settings", "expected a JSON object")
    whole = msgspec.to_builtins(current)
    for key, value in change.items():
        if value is None:
            whole.pop(key, None)
        else:
            whole[key] = value
    return decode_settings(whole)


def to_rows(settings: CommunitySettings) -> dict[str, str]:
    """The stored rows: field name → JSON text, for the fields that are set."""
    return {k: msgspec.json.encode(v).decode() for k, v in msgspec.to_builtins(settings).items()}


def from_rows(rows: dict[str, str]) -> CommunitySettings:
    """Settings from stored rows; a row this version does not know is left alone (a newer server)."""
    return msgspec.convert(
        {k: msgspec.json.decode(v) for k, v in rows.items() if k in FIELDS}, CommunitySettings
    )


def stored_settings(store: Any) -> CommunitySettings:
    """The community settings as stored now (`store`: an `engine.store.Store`)."""
    with store.engine.connect() as conn:
        return from_rows(store.settings_rows(conn))


def save_settings(store: Any, settings: CommunitySettings, now: int, by: str | None = None) -> None:
    """Store the settings whole; running processes see them from their next batch on."""
    store.put_settings(to_rows(settings), now, by)


class SettingsCache:
    """The community settings as a running process sees them: re-read only when their version changed."""

    def __init__(self, store: SettingsSource) -> None:
        self.store = store
        self._version: int | None = None
        self._settings = DEFAULT

    def current(self, conn: Tx) -> CommunitySettings:
        """The settings now (read through the transaction `conn`)."""
        version = self.store.settings_version(conn)
        if version != self._version:
            self._settings = from_rows(self.store.settings_rows(conn))
            self._version = version
        return self._settings


__all__ = [
    "Approval",
    "CommunitySettingInvalid",
    "CommunitySettings",
    "SettingsCache",
    "TouchBudget",
    "decode_settings",
    "merged",
    "save_settings",
    "stored_settings",
]
