"""Names for the ids a page shows (issue #15): a flow's name, a node's label, a member's name, a
group's name.

A page collects the ids of its rows, looks them all up at once in a worker thread (:meth:`Names.load`),
and its template asks `names.flow(id)`, `names.node(flow, node, version)`, `names.member(id)`,
`names.group(id)`, `names.staff(id)`, `names.channel(id)` and `names.person(who)` (who made a change),
which never touch the database. Where nothing better is known the id itself is the name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from qunflow.engine.errors import NotFound

from .accounts import principal_token
from .i18n import translator
from .services import Services


class Names:
    """What a page calls the flows, nodes and members of its rows."""

    def __init__(
        self,
        flows: dict[str, str],
        nodes: dict[tuple[str, int | None, str], str],
        members: dict[str, str],
        documents: dict[tuple[str, int | None], dict[str, Any]] | None = None,
        groups: dict[str, str] | None = None,
        staff: dict[str, str] | None = None,
        channels: dict[str, str] | None = None,
        tokens: dict[int, str] | None = None,
        language: str = "zh",
    ) -> None:
        self._flows = flows
        self._nodes = nodes
        self._members = members
        self._documents = documents or {}
        self._groups = groups or {}
        self._staff = staff or {}
        self._channels = channels or {}
        self._tokens = tokens or {}
        self._ = translator(language)

    @classmethod
    def load(
        cls,
        services: Services,
        language: str,
        *,
        nodes: Iterable[tuple[str, int | None, str]] = (),
        members: Iterable[str | None] = (),
        groups: Iterable[str] = (),
        staff: Iterable[str] = (),
        channels: Iterable[str] = (),
        people: Iterable[str | None] = (),
    ) -> Names:
        """Look up every flow's name, the labels of `nodes` — (flow, version, node); version None
        means the newest draft — the names of `members`, `groups`, `staff` and `channels`, and the
        labels of the API tokens among `people` (who made changes). Reads the store: call it off the
        loop."""
        store = services.store
        flows = {f["id"]: f["name"] for f in store.list_flows()}
        documents: dict[tuple[str, int | None], dict[str, Any]] = {}
        labels: dict[tuple[str, int | None, str], str] = {}
        for flow_id, version, node_id in set(nodes):
            key = (flow_id, version)
            if key not in documents:
                documents[key] = _document(services, flow_id, version)
            labels[(flow_id, version, node_id)] = _node_label(services, documents[key], node_id, language)
        wanted = {m for m in members if m}
        with store.engine.connect() as conn:
            found = store.load_members(conn, wanted) if wanted else {}
        group_names = store.group_names(groups)
        wanted_staff = sorted({s for s in staff if s})
        staff_names = (
            {s.id: s.name for s in store.list_staff_by_id(wanted_staff) if s.name} if wanted_staff else {}
        )
        members_named = {i: m.name for i, m in found.items() if m.name}
        wanted_channels = {c for c in channels if c}
        # A community has tens of channels: the list is read whole.
        channel_names = (
            {c.id: c.name for c in store.list_channels() if c.id in wanted_channels and c.name}
            if wanted_channels
            else {}
        )
        wanted_tokens = {t for t in (principal_token(p) for p in people if p) if t is not None}
        # An admin keeps a handful of tokens: the list is read whole.
        token_labels = (
            {t.id: t.label for t in services.accounts.tokens() if t.id in wanted_tokens and t.label}
            if wanted_tokens
            else {}
        )
        return cls(
            flows,
            labels,
            members_named,
            documents,
            group_names,
            staff_names,
            channel_names,
            token_labels,
            language,
        )

    def flow(self, flow_id: str) -> str:
        return self._flows.get(flow_id) or flow_id

    def node(self, flow_id: str, node_id: str, version: int | None = None) -> str:
        return self._nodes.get((flow_id, version, node_id)) or node_id

    def member(self, member_id: str | None) -> str | None:
        """The member's name, or None when the member has none (the page shows the id alone)."""
        return self._members.get(member_id) if member_id else None

    def group(self, group_id: str) -> str:
        """The group's name, else its id."""
        return self._groups.get(group_id) or group_id

    def staff(self, staff_id: str) -> str:
        """The staff account's name, else its id."""
        return self._staff.get(staff_id) or staff_id

    def channel(self, channel_id: str) -> str:
        """The channel's name (as entered on the channels page), else its id."""
        return self._channels.get(channel_id) or channel_id

    def person(self, who: str) -> str:
        """Who made a change, as a page says it: a user by name, an API token by its label
        (API 令牌：bench), or by its number when it has none or is gone."""
        token = principal_token(who)
        if token is None:
            return who
        label = self._tokens.get(token)
        return self._("API token: {label}", label=label) if label else self._("API token #{id}", id=token)

    def document(self, flow_id: str, version: int | None = None) -> dict[str, Any]:
        """The flow document a node of the rows was looked up in (empty when not loaded)."""
        return self._documents.get((flow_id, version), {})

    def flows(self) -> list[tuple[str, str]]:
        """(id, name) of every flow, by name: what a flow filter offers."""
        return sorted(self._flows.items(), key=lambda item: (item[1], item[0]))


def _document(services: Services, flow_id: str, version: int | None) -> dict[str, Any]:
    try:
        if version is not None:
            return services.store.version_document(flow_id, version)
        return services.store.get_flow(flow_id).draft
    except NotFound:  # a flow deleted since: its ids stay the names
        return {}


def _node_label(services: Services, document: dict[str, Any], node_id: str, language: str) -> str:
    """The node's label as the operator wrote it, else its type's title in `language`, else its id."""
    for node in document.get("nodes") or []:
        if isinstance(node, dict) and node.get("id") == node_id:
            if isinstance(node.get("label"), str) and node["label"].strip():
                return node["label"].strip()
            node_type = services.registry.get(str(node.get("type")))
            if node_type is not None:
                return node_type.title.get(language) or node_type.title.get("zh") or node_id
    return node_id


__all__ = ["Names"]
