"""`/api/members`: members searched and filtered, one member with a timeline of their events, runs
and deliveries, and people's changes — the blacklist set and lifted, tags and the blacklist for many
members at once (DESIGN §15), each recorded in the member's timeline with who made it."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.params import JSONBody, QueryParameter

from qunflow.engine.clock import EPOCH
from qunflow.engine.edits import Edit

from ..auth import READ, WRITE, allow
from ..member_edits import BulkEdit, Edited, edit_members
from ..services import Services, ServicesDep
from .export import Format, csv_download
from .params import Limit, MemberId, Offset, text_filter
from .views import MemberDetail, MemberPage, MemberView, TimelineEntry, iso, page_next

QueryFilter = Annotated[str | None, text_filter("q", "a part of the id or name, any case", r"^[^\x00]*$")]
TagFilter = Annotated[str | None, text_filter("tag", "members with this tag")]
GroupFilter = Annotated[str | None, text_filter("group", "members in this group")]
GradeFilter = Annotated[str | None, text_filter("grade", "S, A, B or C", r"^[SABC]$")]
StageFilter = Annotated[str | None, text_filter("stage", "prospect, customer, member or koc", r"^[a-z]+$")]
ChannelFilter = Annotated[str | None, text_filter("channel", "source channel")]
BlacklistFilter = Annotated[bool | None, QueryParameter(required=False, description="blacklisted or not")]


# As `qunflow import` reads members back (attributes aside), then what the engine saw.
MEMBER_EXPORT = ("id", "name", "channel", "tags", "groups", "points", "total_spend", "order_count", "grade",
                 "stage", "blacklisted", "first_seen", "last_message_at")  # fmt: skip


def changed_by(request: Request[Any, Any, Any]) -> str:
    """Who is making a change, as it is stored with the change: the user's name, or `token:<id>` for an
    API token (stable and unique, which approvals rely on); pages show the token's label instead
    (`Names.person`: API 令牌：bench)."""
    who = request.state.get("principal")
    return who.name if who is not None else "unknown"


TIMELINE_LIMIT = 200
KIND_ORDER = {"event": 0, "run": 1, "delivery": 2}


def member_detail(services: Services, member_id: str) -> MemberDetail:
    store = services.store
    member = store.get_member(member_id)
    entries = [
        TimelineEntry(
            iso(e["at"]),
            "event",
            e["type"],
            id=e["id"],
            data={
                k: v for k, v in (("group", e["group"]), ("channel", e["channel"]), ("data", e["data"])) if v
            },
        )
        for e in store.member_events(member_id, TIMELINE_LIMIT)
    ]
    entries += [
        TimelineEntry(
            iso(r.started_at),
            "run",
            f"{r.flow_id} → {r.node}",
            flow=r.flow_id,
            node=r.node,
            status=r.status,
            id=str(r.id),
            data={"ended_at": iso(r.ended_at), "error": r.error} if r.ended_at else {},
        )
        for r in store.runs(member_id=member_id, limit=TIMELINE_LIMIT)
    ]
    entries += [
        TimelineEntry(
            iso(d["at"]),
            "delivery",
            d["kind"],
            flow=d["flow"],
            node=d["node"],
            status=d["status"],
            id=str(d["id"]),
            # Why a skipped delivery was not made (quota, budget) belongs on the line.
            data={**d["payload"], "reason": d["reason"]} if d["reason"] else d["payload"],
            test=d["test"],
        )
        for d in store.delivery_page(limit=TIMELINE_LIMIT, member_id=member_id)
    ]
    # Newest first; at one moment an event comes before the run it started, before its deliveries.
    entries.sort(key=lambda e: (e.at or EPOCH, KIND_ORDER[e.kind]), reverse=True)
    return MemberDetail(MemberView.of(member), entries[:TIMELINE_LIMIT])


class MemberController(Controller):
    path = "/api/members"
    tags = ["members"]

    @get("", guards=[allow(READ)], sync_to_thread=True, summary="Members in id order, searched and filtered")
    def list_members(
        self,
        services: ServicesDep,
        q: QueryFilter = None,
        tag: TagFilter = None,
        group: GroupFilter = None,
        grade: GradeFilter = None,
        stage: StageFilter = None,
        channel: ChannelFilter = None,
        blacklisted: BlacklistFilter = None,
        limit: Limit = 50,
        offset: Offset = 0,
        format: Format = None,
    ) -> MemberPage:
        filters = {"tag": tag, "group": group, "grade": grade, "stage": stage, "channel": channel,
                   "blacklisted": blacklisted}  # fmt: skip
        if format == "csv":
            return csv_download(  # type: ignore[return-value]
                "members",
                MEMBER_EXPORT,
                lambda at, size: [
                    MemberView.of(m) for m in services.store.member_page(q, **filters, limit=size, offset=at)
                ],
            )
        found = services.store.member_page(q, **filters, limit=limit, offset=offset)
        return MemberPage(
            [MemberView.of(m) for m in found], limit, offset, page_next(len(found), limit, offset)
        )

    @post(
        "/bulk",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Add or remove tags and set or lift the blacklist of many members at once",
        description="404 naming the members that do not exist, and then nothing changes. A tag added "
        "here fires `tag_added` triggers.",
    )
    def bulk(
        self, request: Request[Any, Any, Any], services: ServicesDep, data: JSONBody[BulkEdit]
    ) -> Edited:
        return Edited(edit_members(services, data.members, data.edit(), changed_by(request)))

    @post(
        "/{member_id:str}/blacklist",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Blacklist a member: never invited to a group or sent a friend request",
    )
    def set_blacklist(
        self, request: Request[Any, Any, Any], services: ServicesDep, member_id: MemberId
    ) -> MemberView:
        edit_members(services, [member_id], Edit(blacklist=True), changed_by(request))
        return MemberView.of(services.store.get_member(member_id))

    @delete(
        "/{member_id:str}/blacklist",
        guards=[allow(WRITE)],
        sync_to_thread=True,
        status_code=200,
        summary="Lift a member's blacklist",
    )
    def lift_blacklist(
        self, request: Request[Any, Any, Any], services: ServicesDep, member_id: MemberId
    ) -> MemberView:
        edit_members(services, [member_id], Edit(blacklist=False), changed_by(request))
        return MemberView.of(services.store.get_member(member_id))

    @get(
        "/{member_id:str}",
        guards=[allow(READ)],
        sync_to_thread=True,
        summary="A member with tags, points, groups and a timeline (newest first)",
    )
    def get_member(self, services: ServicesDep, member_id: MemberId) -> MemberDetail:
        return member_detail(services, member_id)
