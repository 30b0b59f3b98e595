"""What publishing a flow's draft would do, for the dialog that asks before it (issue #15):

- `GET /api/flows/{id}/changes`: what changed since the live version, in the operator's words, as the
  version history page says it (`editor.changes`); `first` when nothing is live yet.
- `GET /api/flows/{id}/reach`: how many members the draft's audiences (a schedule's, a broadcast's)
  hold now (`engine.reach`, as approval counts them), and whether events start it — members then enter
  as events come, which no count of today can say (the backtest tells the last 30 days); and the
  approval threshold a reach is held against when the one asking is not an admin.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get
from litestar.params import QueryParameter

from qunflow.engine.community_settings import stored_settings
from qunflow.engine.compiler import Plan, compile_flow
from qunflow.engine.reach import audience_reach, audiences, has_event_trigger

from ..auth import ADMIN, READ, allow
from ..changes import change_words, flow_changes
from ..i18n import LANGUAGE_COOKIE, choose_language, translator
from ..names import Names
from ..services import Services, ServicesDep
from .params import FlowId

Language = Annotated[
    Literal["zh", "en"] | None,
    QueryParameter(
        name="lang", required=False, description="the language of the words (default: the page's, else zh)"
    ),
]


class ChangeWords(msgspec.Struct):
    """One change as the history page lists it: `what` (e.g. 修改配置), `subject` (a node's label, an
    edge as label → label, a setting's title), `field`, and the values `before` and `after` in words."""

    what: str
    subject: str
    field: str
    before: str
    after: str


class DraftChanges(msgspec.Struct):
    """The draft against the live version: `first` when no version is live (publishing makes the
    first one), else `changes` since `live_version` (empty when the draft is the same)."""

    flow: str
    live_version: int | None
    first: bool
    changes: list[ChangeWords]


class ReachNow(msgspec.Struct):
    """Who the draft would reach. `audience`: a trigger or node sends to an audience, which holds
    `members` members now (None without one). `event_triggers`: events start it, so members enter as
    they come. `group_level`: a schedule without an audience runs for groups, with no member.
    `min_reach`: the community's approval threshold (DESIGN §18) when the one asking is not an admin,
    so a reach at least that waits for an admin's approval; None when publishing goes live at once."""

    flow: str
    audience: bool
    members: int | None
    event_triggers: bool
    group_level: bool
    min_reach: int | None = None


def draft_changes(services: Services, flow_id: str, language: str) -> DraftChanges:
    """What changed from the flow's live version to its draft, in `language` (names, not ids)."""
    record = services.store.get_flow(flow_id)
    live = record.live_version
    if live is None:
        return DraftChanges(flow_id, None, True, [])
    found = flow_changes(services.store.version_document(flow_id, live), record.draft)
    nodes = {
        (flow_id, version, change.subject.split(" ")[i])
        for change in found
        if change.what.startswith(("node_", "edge_"))
        for version in (None, live)
        for i in ((0, 2) if change.what.startswith("edge_") else (0,))
    }
    names = Names.load(services, language, nodes=nodes)
    _ = translator(language)

    def type_title(type_id: str) -> str:
        node_type = services.registry.get(type_id)
        return (node_type.title.get(language) or type_id) if node_type is not None else type_id

    said = [change_words(c, names, flow_id, None, live, type_title, _, language) for c in found]
    return DraftChanges(flow_id, live, False, [msgspec.convert(words, ChangeWords) for words in said])


def reach_now(services: Services, flow_id: str, admin: bool) -> ReachNow:
    """The draft's reach now (422 with its problems when it does not compile), as `admin` or not."""
    document = services.store.get_flow(flow_id).draft
    plan = compile_flow(document, services.registry)
    wanted = bool(audiences(plan))
    members = audience_reach(services.store, plan, services.clock.now()) if wanted else None
    approval = None if admin else stored_settings(services.store).approval
    threshold = approval.min_reach if approval is not None else None
    return ReachNow(flow_id, wanted, members, has_event_trigger(plan), _group_level(plan), threshold)


def _group_level(plan: Plan) -> bool:
    return any(
        n.kind == "trigger"
        and n.node_type.schedule is not None
        and n.node_type.audience_for(n.config) is None
        for n in plan.nodes.values()
    )


class PublishingController(Controller):
    path = "/api/flows"
    tags = ["flows"]

    @get(
        "/{flow_id:str}/changes",
        guards=[allow(READ)],
        sync_to_thread=True,
        summary="What changed from the live version to the draft, in words",
        description="Each change as the version history page says it (node labels, durations in days, "
        "no JSON), in `lang` (else the page's language). `first: true` when no version is live.",
    )
    def changes(
        self, request: Request[Any, Any, Any], services: ServicesDep, flow_id: FlowId, lang: Language = None
    ) -> DraftChanges:
        language = lang or choose_language(request.cookies.get(LANGUAGE_COOKIE))
        return draft_changes(services, flow_id, language)

    @get(
        "/{flow_id:str}/reach",
        guards=[allow(READ)],
        sync_to_thread=True,
        summary="How many members the draft's audiences hold now",
        description="`members`: the members in the draft's schedule and broadcast audiences now, each "
        "counted once (as approval estimates it, DESIGN §18); null when it has none. `event_triggers`: "
        "events start it, so members enter as events come (the backtest counts the last 30 days). "
        "`min_reach`: the approval threshold when the one asking is not an admin (a reach at least "
        "that waits for approval). 422 with the problems when the draft is not valid.",
    )
    def reach(self, request: Request[Any, Any, Any], services: ServicesDep, flow_id: FlowId) -> ReachNow:
        who = request.state.get("principal")
        return reach_now(services, flow_id, who is not None and who.role in ADMIN)


__all__ = ["ChangeWords", "DraftChanges", "PublishingController", "ReachNow", "draft_changes", "reach_now"]
