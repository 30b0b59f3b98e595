"""`/api/members/{id}`: the member, and a timeline of their events, runs and deliveries."""

from __future__ import annotations

from litestar import Controller, get

from qunflow.engine.clock import EPOCH

from ..auth import READ, allow
from ..services import Services, ServicesDep
from .params import MemberId
from .views import MemberDetail, MemberView, TimelineEntry, iso

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
        )
        for d in store.delivery_page(limit=TIMELINE_LIMIT, member_id=member_id)
    ]
    # Newest first; at one moment an event comes before the run it started, before its deliveries.
    entries.sort(key=lambda e: (e.at or EPOCH, KIND_ORDER[e.kind]), reverse=True)
    return MemberDetail(MemberView.of(member), entries[:TIMELINE_LIMIT])


class MemberController(Controller):
    path = "/api/members"
    tags = ["members"]

    @get(
        "/{member_id:str}",
        guards=[allow(READ)],
        sync_to_thread=True,
        summary="A member with tags, points, groups and a timeline (newest first)",
    )
    def get_member(self, services: ServicesDep, member_id: MemberId) -> MemberDetail:
        return member_detail(services, member_id)
