"""Group pools, capacity, removal and the blacklist (DESIGN §5 "Group capacity", "Blacklist")."""

from __future__ import annotations

from typing import Any

from documents import event, flow, node
from kit import run, runs, sent, tags

from qunflow.engine import Store
from qunflow.engine.member import MemberRecord

T = "2026-11-22T10:00:00+08:00"


def inviting(capacity: int = 2) -> dict[str, Any]:
    return flow(
        "invite",
        [
            node("t", "trigger.event", event="promote"),
            node("vip", "action.invite_to_group", groups=["vip-1", "vip-2"], capacity=capacity),
            node("full", "action.add_tag", tags=["full"]),
            node("blocked", "action.add_tag", tags=["blocked"]),
        ],
        [("t", "vip"), ("vip", "full", "full"), ("vip", "blocked", "blocked")],
        settings={"reentry": "always"},
    )


def promote(member: str, at: str = T, id: str | None = None) -> dict[str, Any]:
    return event(id or f"p-{member}-{at}", "promote", at, member=member)


def test_invite_fills_the_pool_in_order_and_routes_to_full_when_none_has_room() -> None:
    report = run(
        inviting(),
        [promote(m) for m in ("a", "b", "c", "d")],
        members=[{"id": "old", "groups": ["vip-1"]}],
    )
    assert [(d["member"], d["payload"]) for d in sent(report, "vip")] == [
        ("a", {"group": "vip-1"}),
        ("b", {"group": "vip-2"}),
        ("c", {"group": "vip-2"}),
    ]
    assert report["members"]["a"]["groups"] == ["vip-1"]
    assert tags(report, "d") == ["full"]


def test_a_member_who_leaves_frees_a_place() -> None:
    report = run(
        inviting(capacity=1),
        [
            promote("a"),
            promote("b"),
            event("l", "member_left", "2026-11-22T11:00:00+08:00", member="a", group="vip-1"),
            promote("c", "2026-11-22T12:00:00+08:00"),
        ],
    )
    assert [(d["member"], d["payload"]["group"]) for d in sent(report, "vip")] == [
        ("a", "vip-1"),
        ("b", "vip-2"),
        ("c", "vip-1"),
    ]


def test_group_sizes_are_kept_without_scanning_members(store: Store) -> None:
    store.put_members(
        [MemberRecord(id=f"m{i}", groups=["g1"] + (["g2"] if i % 2 else [])).to_member(0) for i in range(5)]
    )
    store.put_members([MemberRecord(id="m0", groups=["g2"]).to_member(0)])
    with store.transaction() as conn:
        assert store.group_sizes(conn, ["g1", "g2", "g3"]) == {"g1": 4, "g2": 3, "g3": 0}


def anti_spam() -> dict[str, Any]:
    return flow(
        "guard",
        [
            node("t", "trigger.message", keywords=["加微信", "代购"]),
            node("kick", "action.remove_from_group", blacklist=True),
        ],
        [("t", "kick")],
        settings={"reentry": "always"},
    )


def befriend() -> dict[str, Any]:
    return flow(
        "friend",
        [
            node("t", "trigger.event", event="promote"),
            node("add", "action.add_friend", staff=["s1"]),
            node("blocked", "action.add_tag", tags=["no_friend"]),
        ],
        [("t", "add"), ("add", "blocked", "blocked")],
        settings={"reentry": "always"},
    )


def test_blacklisted_members_are_removed_never_invited_nor_befriended_but_triggers_still_fire() -> None:
    report = run(
        [anti_spam(), inviting(), befriend()],
        [
            event("j", "member_joined", T, member="spammer", group="g-fans"),
            event(
                "s",
                "message",
                "2026-11-22T10:05:00+08:00",
                member="spammer",
                group="g-fans",
                data={"text": "加微信领红包"},
            ),
            promote("spammer", "2026-11-22T11:00:00+08:00"),
            event(
                "s2",
                "message",
                "2026-11-22T12:00:00+08:00",
                member="spammer",
                group="g-fans",
                data={"text": "代购"},
            ),
        ],
    )
    [first, second] = sent(report, "kick")
    assert first["payload"] == {"group": "g-fans", "blacklist": True}
    assert first["at"] == "2026-11-22T10:05:00+08:00"
    # The trigger still fires for a blacklisted member (a flow can act on them again).
    assert second["at"] == "2026-11-22T12:00:00+08:00"
    member = report["members"]["spammer"]
    assert member["blacklisted"] is True
    assert member["groups"] == []
    assert sent(report, "vip") == [] and sent(report, "add") == []
    assert sorted(member["tags"]) == ["blocked", "no_friend"]
    assert runs(report, "guard") == {"done": 2}


def test_remove_without_blacklist_only_removes() -> None:
    document = flow(
        "f",
        [node("t", "trigger.event", event="kick"), node("out", "action.remove_from_group", group="g-old")],
        [("t", "out")],
    )
    report = run(
        [document, inviting()],
        [event("k", "kick", T, member="m", profile={"name": "m"}), promote("m", "2026-11-22T11:00:00+08:00")],
        members=[{"id": "m", "groups": ["g-old", "g-new"]}],
    )
    assert sent(report, "out")[0]["payload"] == {"group": "g-old", "blacklist": False}
    assert report["members"]["m"]["groups"] == ["g-new", "vip-1"]
    assert report["members"]["m"]["blacklisted"] is False
