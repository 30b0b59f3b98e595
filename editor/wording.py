"""How the pages say a run's state in words (issue #15): the answer a node gave (是/否, not a port id),
why a run waits (quiet hours, the frequency cap, an event awaited until when), and stored data as
`name: value` text, never as JSON.

Everything here works on what the store keeps: the run's node, status, wake time and awaited event,
and the flow version's document (its settings and edges). Nothing is guessed beyond that.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from qunflow.engine.edits import EDITED
from qunflow.engine.localtime import parse_time
from qunflow.engine.registry import Registry

from .names import Names

Translate = Callable[..., str]
When = Callable[[datetime | None], str]

# Output ports whose name is not already a word an operator reads (DESIGN §5 catalogue).
PORT_WORDS = {"true": "yes", "false": "no"}
# Nodes that hold a message back for the flow's quiet hours or its frequency cap (nodes.quota).
MESSAGE_NODES = frozenset({"action.send_message", "action.broadcast"})
# The run var a message node sets while it waits for the touch budget (DESIGN §18).
BUDGET_WAIT = "_wait_reason"
# Events a run may wait for, as an operator says them; others are shown by their type.
EVENT_WORDS = ("purchase", "message", "member_joined", "member_left", "tag_added", "contact_added",
               "task_completed", "contact_deleted", "delivery_settled", "coupon_redeemed",
               "link_clicked", "member_updated", "member_edited")  # fmt: skip
DATA_LENGTH = 120
# Keys of the built-in events' data an operator reads in her own words ("detail:text" → 内容); the
# keys of a custom event's data stay as its sender named them.
DETAIL_WORDS = frozenset({"group", "channel", "text", "amount", "product", "staff", "coupon", "url",
                          "by", "half", "join_scene", "quit_scene"})  # fmt: skip
# Values said in words ("detail:by=staff" → 员工): who deleted a contact, how WeCom says a member
# joined or left a group (JoinScene, QuitScene).
DETAIL_VALUES = frozenset({"by=staff", "by=customer", "join_scene=0", "join_scene=1", "join_scene=3",
                           "quit_scene=0", "quit_scene=1"})  # fmt: skip
# Ids shown by the name `Names` knows for them (its method of the same name).
NAMED_DETAILS = frozenset({"group", "channel", "staff"})
# A WeCom welcome code is good for 20 seconds and means nothing to a person.
HIDDEN_DETAILS = frozenset({"welcome_code"})
# What a payload says, in the order a line shows the first one found (never the JSON itself).
SUMMARY_KEYS = ("text", "title", "coupon", "group", "tag", "tags", "task", "url")
SUMMARY_LENGTH = 80


def _node(document: dict[str, Any], node_id: str) -> dict[str, Any] | None:
    for node in document.get("nodes") or []:
        if isinstance(node, dict) and node.get("id") == node_id:
            return node
    return None


def port_taken(registry: Registry, document: dict[str, Any], node_id: str) -> str | None:
    """The port a run that finished at `node_id` left by: a run ends at a node when the port it took
    has no edge, so when exactly one of the node's ports has none, that is the one. None when the
    document does not say (or the port is the plain `next`)."""
    node = _node(document, node_id)
    node_type = registry.get(str(node.get("type"))) if node else None
    if node is None or node_type is None:
        return None
    try:
        ports = list(node_type.ports_for(msgspec.convert(node.get("config") or {}, node_type.config)))
    except msgspec.ValidationError:  # a config the node no longer reads: say nothing rather than guess
        return None
    used = {e.get("port", "next") for e in document.get("edges") or [] if e.get("from") == node_id}
    open_ports = [p for p in ports if p not in used]
    if len(open_ports) != 1 or open_ports[0] == "next":
        return None
    return open_ports[0]


def port_words(port: str, _: Translate) -> str:
    """`true` → 是, `timeout` → 超时; a port of a switch or split keeps its own name."""
    return _(PORT_WORDS.get(port, port))


def wait_reason(
    run: Any, names: Names, registry: Registry, _: Translate, when: When, timezone: ZoneInfo
) -> str | None:
    """Why a waiting run waits, in the operator's words, from its stored wake time and awaited event
    and its flow version's settings; why a run exited early (its goal, the control group, a person
    took the member out); None for any other run."""
    if run.status == "exited" and getattr(run, "reason", None):
        return _("exited:" + run.reason)
    if run.status != "waiting":
        return None
    document = names.document(run.flow, run.version)
    node = _node(document, run.node) or {}
    type_id = str(node.get("type", ""))
    until = when(run.wake_at)
    if run.wait_event:
        event = _("event:" + run.wait_event) if run.wait_event in EVENT_WORDS else run.wait_event
        if run.wake_at is None:
            return _("Waiting for {event}", event=event)
        return _("Waiting for {event} until {time}", event=event, time=until)
    if run.wake_at is None:
        return None
    settings = document.get("settings") or {}
    # The node says when it waits for the community's touch budget (nodes.quota.WAIT_REASON).
    if type_id in MESSAGE_NODES and (getattr(run, "vars", None) or {}).get(BUDGET_WAIT) == "budget":
        return _("Touch budget full: sends at {time}", time=until)
    if type_id in MESSAGE_NODES:
        quiet = settings.get("quiet_hours") or {}
        if quiet.get("end") and _at_time_of_day(run.wake_at, quiet["end"], document, timezone):
            return _("Quiet hours (免打扰): sends at {time}", time=until)
        if settings.get("frequency_cap"):
            return _("Frequency cap reached: sends at {time}", time=until)
    if type_id == "action.add_friend":
        return _("Every staff account is at its daily limit: tries again at {time}", time=until)
    return _("Waiting until {time}", time=until)


def _at_time_of_day(moment: datetime, text: str, document: dict[str, Any], default: ZoneInfo) -> bool:
    try:
        zone = ZoneInfo(str(document.get("timezone") or default.key))
        local = moment.astimezone(zone).time().replace(second=0, microsecond=0)
        return local == parse_time(text).replace(second=0, microsecond=0)
    except (ValueError, KeyError):
        return False


def data_lines(data: dict[str, Any], _: Translate, names: Names | None = None, prefix: str = "") -> list[str]:
    """Stored data as `name: value` lines in the page's language: the keys the built-in events use
    said in words (群, 内容, 金额 ...; a custom event's own keys as they are, nested ones joined with
    `.`), a group, channel or staff account by its name where `names` knows it, each value cut to a
    readable length: what a timeline shows instead of JSON."""
    lines: list[str] = []
    for key, value in data.items():
        if key in HIDDEN_DETAILS:
            continue
        if isinstance(value, str) and names is not None and key in NAMED_DETAILS:
            value = getattr(names, key)(value)
        if isinstance(value, dict):
            lines += data_lines(value, _, names, f"{prefix}{key}.")
        elif value is None or value == [] or value == "":
            continue
        else:
            text = "、".join(str(v) for v in value) if isinstance(value, list) else str(value)
            if isinstance(value, bool):
                text = "✓" if value else "✗"
            elif f"{key}={text}" in DETAIL_VALUES:
                text = _(f"detail:{key}={text}")
            if len(text) > DATA_LENGTH:
                text = text[: DATA_LENGTH - 1] + "…"
            name = _("detail:" + key) if not prefix and key in DETAIL_WORDS else prefix + key
            lines.append(_("{name}: {value}", name=name, value=text))
    return lines


def payload_summary(payload: dict[str, Any], names: Names | None = None) -> str:
    """A delivery's payload in a few words: its text, else the coupon, group (by name where `names`
    knows it), task... it names."""
    if names is not None and isinstance(payload.get("group"), str):
        payload = {**payload, "group": names.group(payload["group"])}
    content = payload.get("content")
    if isinstance(content, dict) and not payload.get("text") and content.get("title"):
        payload = {**payload, "title": content["title"]}
    for key in SUMMARY_KEYS:
        value = payload.get(key)
        if isinstance(value, list):
            value = "、".join(str(v) for v in value)
        if value not in (None, "", {}):
            text = str(value.get("title") or value.get("id") or "") if isinstance(value, dict) else str(value)
            if text:
                return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 1] + "…"
    return ""


def _settled_details(data: dict[str, Any], names: Names, _: Translate) -> list[str]:
    """How a delivery a run waited for settled, in words: what it was, from which node, its status
    (the engine's ids stay out of sight)."""
    lines = [_(str(data.get("kind", ""))), _("delivery:" + str(data.get("status", "")))]
    if isinstance(data.get("flow"), str) and isinstance(data.get("node"), str):
        lines.insert(0, names.node(data["flow"], data["node"]))
    if isinstance(data.get("reason"), str):
        lines.append(_("reason:" + data["reason"]))
    if isinstance(data.get("error"), str):
        lines.append(data["error"][:DATA_LENGTH])
    return lines


def _task_details(data: dict[str, Any], names: Names, _: Translate) -> list[str]:
    """A staff task closed: which node's task, done or skipped, and by whom."""
    lines = []
    if isinstance(data.get("flow"), str) and isinstance(data.get("node"), str):
        lines.append(names.node(data["flow"], data["node"]))
    if data.get("outcome") in ("done", "skipped"):
        lines.append(_("task:" + data["outcome"]))
    if isinstance(data.get("by"), str):
        lines.append(names.person(data["by"]))
    return lines


def _edit_details(data: dict[str, Any], names: Names, _: Translate) -> list[str]:
    """A person's change to the member (`engine.edits`): the tags added and removed, the blacklist,
    and who made it."""
    lines = []
    for key, title in (("add_tags", "Tags added: {tags}"), ("remove_tags", "Tags removed: {tags}")):
        if isinstance(data.get(key), list) and data[key]:
            lines.append(_(title, tags="、".join(str(tag) for tag in data[key])))
    if data.get("blacklist") is True:
        lines.append(_("Put on the blacklist"))
    elif data.get("blacklist") is False:
        lines.append(_("Taken off the blacklist"))
    if isinstance(data.get("by"), str):
        lines.append(_("By {who}", who=names.person(data["by"])))
    return lines


def timeline_lines(
    entries: list[Any],
    runs: dict[str, Any],
    names: Names,
    registry: Registry,
    _: Translate,
    when: When,
    timezone: ZoneInfo,
) -> list[dict[str, Any]]:
    """A member's timeline (`TimelineEntry`s, newest first) as lines a page shows: `at`, `kind`,
    `title`, `flow` (id, for the link) and `flow_name`, `node` (its label), `answer`, `status` and
    `status_label`, `reason` (why a run waits), and `details` (`name: value` texts)."""
    lines = []
    for entry in entries:
        line: dict[str, Any] = {"at": entry.at, "kind": entry.kind, "flow": entry.flow, "details": []}
        if entry.flow:
            line["flow_name"] = names.flow(entry.flow)
        if entry.kind == "event":
            line["title"] = _("event:" + entry.title) if entry.title in EVENT_WORDS else entry.title
            # The event's own data reads best without its `data.` prefix.
            own = entry.data.get("data") if isinstance(entry.data.get("data"), dict) else {}
            if entry.title == "delivery_settled":
                line["details"] = _settled_details(own, names, _)
            elif entry.title == "task_completed":
                line["details"] = _task_details(own, names, _)
            elif entry.title == EDITED:
                line["details"] = _edit_details(own, names, _)
            else:
                line["details"] = data_lines(
                    {**{k: v for k, v in entry.data.items() if k != "data"}, **own}, _, names
                )
        elif entry.kind == "run":
            run = runs.get(entry.id or "")
            version = run.version if run is not None else None
            line["title"] = names.node(entry.flow or "", entry.node or "", version)
            line["status"], line["status_label"] = entry.status, _(entry.status or "")
            if run is not None:
                if run.status == "done":
                    port = port_taken(registry, names.document(run.flow, run.version), run.node)
                    line["answer"] = port_words(port, _) if port else None
                line["reason"] = wait_reason(run, names, registry, _, when, timezone)
                if run.ended_at is not None:
                    line["details"].append(_("Ended {time}", time=when(run.ended_at)))
                if run.error:
                    line["details"].append(run.error)
        else:  # a delivery
            line["title"] = _(entry.title)
            line["node"] = names.node(entry.flow or "", entry.node or "")
            line["status"], line["status_label"] = entry.status, _("delivery:" + (entry.status or ""))
            reason = entry.data.get("reason")
            payload = {k: v for k, v in entry.data.items() if k != "reason"}
            line["details"] = [text for text in (payload_summary(payload, names),) if text]
            if entry.test:
                line["details"].insert(0, _("Test send"))
            if isinstance(reason, str):
                line["details"].append(_("reason:" + reason))
        lines.append(line)
    return lines


def named_ids(data: dict[str, Any], key: str) -> list[str]:
    """The ids stored data names by `key` (its own, and its `data`'s): what to look up names for."""
    inner = data.get("data")
    found = [data.get(key), inner.get(key) if isinstance(inner, dict) else None]
    return [i for i in found if isinstance(i, str) and i]


def group_ids(data: dict[str, Any]) -> list[str]:
    """The group ids stored data names (its `group`, and its `data.group`): what to look up names for."""
    return named_ids(data, "group")


__all__ = [
    "data_lines",
    "group_ids",
    "named_ids",
    "payload_summary",
    "port_taken",
    "port_words",
    "timeline_lines",
    "wait_reason",
]
