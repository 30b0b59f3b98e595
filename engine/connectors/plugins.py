"""The installed connector types: every class the entry point group `qunflow.connectors` names.

`recording` and `webhook` come in through the group like any other package's connector (DESIGN §19).
A type is checked when it is loaded; one that is broken or fails to import is left out and logged,
so a bad package cannot stop the server.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

import msgspec

from .base import ConnectorType

ENTRY_POINT_GROUP = "qunflow.connectors"
log = logging.getLogger("qunflow.connectors")


class BadConnectorType(TypeError):
    """A class named as a connector does not declare what a connector must."""


def check_type(value: Any) -> ConnectorType:
    """`value` if it is a connector type: a `name`, `kinds`, an `Options` struct and `open`."""
    name = getattr(value, "name", None)
    if not isinstance(name, str) or not name or len(name) > 100:
        raise BadConnectorType(f"{value!r}: `name` must be a short text")
    kinds = getattr(value, "kinds", None)
    if not isinstance(kinds, frozenset | set | tuple | list) or not all(isinstance(k, str) for k in kinds):
        raise BadConnectorType(f"connector `{name}`: `kinds` must be a set of delivery kinds")
    options = getattr(value, "Options", None)
    if not (isinstance(options, type) and issubclass(options, msgspec.Struct)):
        raise BadConnectorType(f"connector `{name}`: `Options` must be a msgspec Struct")
    if not callable(getattr(value, "open", None)):
        raise BadConnectorType(f"connector `{name}`: needs a classmethod `open(options, context)`")
    return value


def installed_connectors() -> dict[str, ConnectorType]:
    """Every connector type installed now, by name (read afresh on each call)."""
    found: dict[str, ConnectorType] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            kind = check_type(entry_point.load())
        except Exception as error:  # another package's bug must not stop this one
            log.warning("connector entry point `%s` left out: %s", entry_point.name, error)
            continue
        if kind.name in found and found[kind.name] is not kind:
            log.warning("two connectors are called `%s`; the first one found is used", kind.name)
            continue
        found[kind.name] = kind
    return dict(sorted(found.items()))


def title_of(kind: ConnectorType, language: str) -> str:
    titles: Mapping[str, str] = getattr(kind, "title", None) or {}
    return titles.get(language) or titles.get("en") or kind.name


def delivers(kind: ConnectorType) -> bool:
    """Whether what the connector takes leaves the server (all but the recording connector)."""
    return bool(getattr(kind, "delivers", True))


__all__ = [
    "ENTRY_POINT_GROUP",
    "BadConnectorType",
    "check_type",
    "delivers",
    "installed_connectors",
    "title_of",
]
