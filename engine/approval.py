"""Approval before large sends (DESIGN §18): publishing a flow that would reach at least the
community's `approval.min_reach` members, by anyone but an admin, freezes the draft as a version that
waits for an admin other than the one who asked; approved, it goes live; rejected, it never does.
The version history keeps who asked, who decided, when, and why not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import msgspec

from .clock import to_us
from .community_settings import stored_settings
from .compiler import compile_flow
from .engine import Engine
from .errors import UserError
from .reach import estimated_reach


class Publication(msgspec.Struct, frozen=True):
    """What publishing did: the version is live (`published`) or waits for approval."""

    status: Literal["published", "pending_approval"]
    flow: str
    version: int
    # The estimated reach, when approval is configured and it was estimated; and the threshold.
    reach: int | None = None
    min_reach: int | None = None


class SameRequester(UserError):
    """The one who asked for a publication cannot decide on it: another admin must."""


# How the reach is estimated (the web app passes `estimated_reach`; tests may count otherwise).
Reach = Callable[[Engine, dict[str, Any]], int]


def reach_of(engine: Engine, document: dict[str, Any]) -> int:
    """The estimated reach of a flow document on the engine's store (`engine.reach`)."""
    return estimated_reach(
        engine.store, document, engine.clock.now(), engine.registry, engine.flow_ids() - {document.get("id")}
    )


def publish(engine: Engine, flow_id: str, by: str, admin: bool, reach: Reach = reach_of) -> Publication:
    """Publish the flow's draft as `by`: live at once, or (approval configured, `by` not an admin,
    the reach at least `min_reach`) frozen as a version waiting for approval. Raises FlowInvalid, as
    `Engine.publish` does, when the draft is not valid; nothing is stored then."""
    store = engine.store
    approval = stored_settings(store).approval
    if approval is None or admin:
        version = engine.publish(flow_id)
        store.mark_published(flow_id, version, by, None, to_us(engine.clock.now()))
        return Publication("published", flow_id, version)
    draft = store.get_flow(flow_id).draft
    compile_flow(draft, engine.registry, flows=engine.flow_ids(), content=store.content_index())
    estimate = reach(engine, draft)
    if estimate < approval.min_reach:
        version = engine.publish(flow_id)
        store.mark_published(flow_id, version, by, estimate, to_us(engine.clock.now()))
        return Publication("published", flow_id, version, estimate, approval.min_reach)
    now = to_us(engine.clock.now())
    version = store.request_version(flow_id, draft, now, by, estimate)
    return Publication("pending_approval", flow_id, version, estimate, approval.min_reach)


def decide(engine: Engine, flow_id: str, by: str, approved: bool, reason: str | None = None) -> int:
    """An admin's decision on the flow's waiting version; returns its number. Approved, the version
    goes live (checked again first: the content it sends may have gone meanwhile). Raises
    SameRequester when `by` asked for it, Conflict when no version waits."""
    store = engine.store
    pending = store.pending_version(flow_id)
    if pending["requested_by"] == by:
        raise SameRequester(
            f"`{by}` asked for version {pending['version']} of `{flow_id}`: another admin must decide "
            "(申请人不能审批自己的发布)"
        )
    version = int(pending["version"])
    if approved:
        document = store.version_document(flow_id, version)
        compile_flow(document, engine.registry, flows=engine.flow_ids(), content=store.content_index())
    store.decide_version(flow_id, version, approved, to_us(engine.clock.now()), by, reason)
    if approved:
        engine.flows.reload()
        engine.scheduler.sync(engine.clock.now())
    return version


__all__ = ["Publication", "SameRequester", "decide", "publish", "reach_of"]
