"""Running whole flows through `engine.simulate.simulate` and reading the report."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from qunflow.engine import Registry
from qunflow.engine.community_settings import decode_settings
from qunflow.engine.content import ContentItem
from qunflow.engine.event import convert_events
from qunflow.engine.member import GroupRecord, MemberRecord
from qunflow.engine.simulate import simulate


def run(
    flows: dict[str, Any] | Sequence[dict[str, Any]],
    events: Sequence[dict[str, Any]],
    until: str = "P30D",
    members: Sequence[dict[str, Any]] = (),
    groups: Sequence[dict[str, Any]] = (),
    registry: Registry | None = None,
    content: Sequence[dict[str, Any]] = (),
    settings: dict[str, Any] | None = None,
    start: str | None = None,
) -> dict[str, Any]:
    """Simulate flows on events (dicts as in the JSON Lines files) and return the report;
    `settings` are the community settings (DESIGN §18)."""
    documents = [flows] if isinstance(flows, dict) else list(flows)
    return simulate(
        documents,
        convert_events(list(events)),
        until,
        members=[msgspec.convert(m, MemberRecord) for m in members],
        groups=[msgspec.convert(g, GroupRecord) for g in groups],
        registry=registry,
        content=[msgspec.convert(c, ContentItem) for c in content],
        settings=decode_settings(settings) if settings is not None else None,
        start=datetime.fromisoformat(start) if start is not None else None,
    )


def sent(report: dict[str, Any], node: str | None = None, member: str | None = None) -> list[dict[str, Any]]:
    """The deliveries, optionally of one node and/or member."""
    return [
        d
        for d in report["deliveries"]
        if (node is None or d["node"] == node) and (member is None or d["member"] == member)
    ]


def times(report: dict[str, Any], node: str) -> dict[str, str]:
    """When each member got a delivery from `node` (local ISO time of the flow)."""
    return {d["member"]: d["at"] for d in sent(report, node)}


def runs(report: dict[str, Any], flow_id: str = "f") -> dict[str, int]:
    """The non-zero run counts of a flow."""
    return {k: v for k, v in report["runs"][flow_id].items() if v}


def tags(report: dict[str, Any], member: str) -> list[str]:
    return report["members"][member]["tags"]
