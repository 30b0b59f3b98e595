"""What changed between two versions of a flow, as the version history page lists it: found here as
plain data (:func:`flow_changes`), then said in the operator's words (:func:`change_words`): node
labels instead of ids, one line per changed field, durations as 1 天 instead of `P1D`."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal

import msgspec

from qunflow.engine.fields import OPS

from .names import Names
from .wording import EVENT_WORDS, port_words

What = Literal[
    "node_added", "node_removed", "node_config", "node_label", "node_type",
    "edge_added", "edge_removed", "settings", "name", "timezone",
]  # fmt: skip

Translate = Callable[..., str]
_ISO_DURATION = re.compile(r"^P(?=\d|T\d)(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
_UNITS = {
    "zh": (("天", "天"), ("小时", "小时"), ("分钟", "分钟"), ("秒", "秒")),
    "en": (("day", "days"), ("hour", "hours"), ("minute", "minutes"), ("second", "seconds")),
}


class Change(msgspec.Struct, frozen=True):
    """One difference: `subject` is a node id, an edge `(from, port, to)` joined by spaces, or a
    settings key; `field` the config field that changed; `before` and `after` the stored values."""

    what: What
    subject: str
    field: str = ""
    before: Any = None
    after: Any = None


def _nodes(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in document.get("nodes") or [] if isinstance(n, dict) and "id" in n}


def _edges(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted(
        (str(e.get("from")), str(e.get("port") or "next"), str(e.get("to")))
        for e in document.get("edges") or []
        if isinstance(e, dict)
    )


def _differing(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [key for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]


def flow_changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[Change]:
    """The differences from `before` (None for the first version) to `after`; positions are ignored."""
    before = before or {}
    changes: list[Change] = []
    for key in ("name", "timezone"):
        if before and before.get(key) != after.get(key):
            changes.append(Change(key, key, before=before.get(key), after=after.get(key)))
    old_settings, new_settings = before.get("settings") or {}, after.get("settings") or {}
    if before:
        changes += [
            Change("settings", key, before=old_settings.get(key), after=new_settings.get(key))
            for key in _differing(old_settings, new_settings)
        ]

    old_nodes, new_nodes = _nodes(before), _nodes(after)
    for node_id, node in new_nodes.items():
        old = old_nodes.get(node_id)
        if old is None:
            changes.append(Change("node_added", node_id, after=node.get("type")))
            continue
        if old.get("type") != node.get("type"):
            changes.append(Change("node_type", node_id, before=old.get("type"), after=node.get("type")))
        old_config, new_config = old.get("config") or {}, node.get("config") or {}
        changes += [
            Change("node_config", node_id, key, old_config.get(key), new_config.get(key))
            for key in _differing(old_config, new_config)
        ]
        if (old.get("label") or "") != (node.get("label") or ""):
            changes.append(Change("node_label", node_id, before=old.get("label"), after=node.get("label")))
    for node_id, node in old_nodes.items():
        if node_id not in new_nodes:
            changes.append(Change("node_removed", node_id, before=node.get("type")))

    old_edges, new_edges = _edges(before), _edges(after)
    changes += [Change("edge_added", " ".join(edge)) for edge in new_edges if edge not in old_edges]
    changes += [Change("edge_removed", " ".join(edge)) for edge in old_edges if edge not in new_edges]
    return changes


# -- in words -------------------------------------------------------------------------------------------


def humanize(name: str) -> str:
    """A config field's name as the editor's form titles it (`re_entry` → `Re entry`), to translate."""
    words = name.replace("_", " ")
    return words[:1].upper() + words[1:]


def duration_words(value: timedelta, language: str) -> str:
    """`P1DT2H` → 1 天 2 小时 / 1 day 2 hours."""
    units = _UNITS.get(language, _UNITS["en"])
    seconds = int(value.total_seconds())
    parts = []
    for (one, many), size in zip(units, (86400, 3600, 60, 1), strict=True):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {one if count == 1 else many}")
    return " ".join(parts) or f"0 {units[3][1]}"


def value_words(value: Any, _: Translate, language: str, field: str = "") -> str:
    """A stored value as an operator reads it: durations in days and hours, yes / no, a comparison's
    operator (the value of a field `op`) in words (`gte` → 不少于), a built-in event type (the value
    of a field `event`) by its title (`purchase` → 下单), lists joined with 、, objects as
    `field: value` pairs — never JSON."""
    if value is None or value == "" or value == [] or value == {}:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if field == "op" and value in OPS:
        return _("op:" + value)
    if field == "event" and value in EVENT_WORDS:
        return _("event:" + value)
    if isinstance(value, str) and _ISO_DURATION.match(value):
        try:
            return duration_words(msgspec.convert(value, timedelta), language)
        except msgspec.ValidationError:
            return value
    if isinstance(value, list):
        return "、".join(value_words(item, _, language, field) for item in value)
    if isinstance(value, dict):
        return "；".join(
            f"{_(humanize(str(k)))}: {value_words(v, _, language, str(k))}" for k, v in value.items()
        )
    return str(value)


def change_words(
    change: Change,
    names: Names,
    flow_id: str,
    version: int | None,
    previous: int | None,
    type_title: Callable[[str], str],
    _: Translate,
    language: str,
) -> dict[str, str]:
    """`change` as the history page shows it: `what`, `subject` (a node's label, an edge as
    label →(port) label, a settings field's title), `field`, `before` and `after`, all in words.
    Nodes are named as in `version` (None: the draft), removed ones as in `previous`."""

    def node(node_id: str) -> str:
        label = names.node(flow_id, node_id, version)
        return label if label != node_id or previous is None else names.node(flow_id, node_id, previous)

    words = {"what": _(change.what), "field": "", "before": "", "after": ""}
    if change.what.startswith("edge_"):
        source, port, target = change.subject.split(" ")
        through = "" if port == "next" else f"（{port_words(port, _)}）"
        words["subject"] = f"{node(source)}{through} → {node(target)}"
        return words
    if change.what.startswith("node_"):
        words["subject"] = node(change.subject)
    else:
        words["subject"] = _(humanize(change.subject)) if change.what == "settings" else ""
    if change.what in ("node_added", "node_removed", "node_type"):
        words["before"] = type_title(change.before) if change.before else ""
        words["after"] = type_title(change.after) if change.after else ""
        return words
    words["field"] = _(humanize(change.field)) if change.field else ""
    words["before"] = value_words(change.before, _, language, change.field)
    words["after"] = value_words(change.after, _, language, change.field)
    return words


__all__ = ["Change", "change_words", "duration_words", "flow_changes", "value_words"]
