"""Quiet hours, the frequency cap and staff daily limits (DESIGN §5): they defer, never drop."""

from __future__ import annotations

from typing import Any

import pytest
from documents import event, flow, node
from kit import run, runs, sent, times

from qunflow.engine import Engine, Store
from qunflow.engine.event import convert_events

QUIET = {"start": "22:00", "end": "08:00"}


def welcome(settings: dict[str, Any], timezone: str = "Asia/Shanghai") -> dict[str, Any]:
    return flow(
        "f",
        [
            node("t", "trigger.member_joined"),
            node("coupon", "action.send_coupon", coupon="c-1"),
            node("hi", "action.send_message", text="欢迎 {{ member.name }}"),
        ],
        [("t", "coupon"), ("coupon", "hi")],
        timezone=timezone,
        settings=settings,
    )


def joined(id: str, member: str, at: str) -> dict[str, Any]:
    return event(id, "member_joined", at, member=member, group="g", profile={"name": member})


def test_quiet_hours_hold_messages_until_the_window_ends_and_hold_nothing_else() -> None:
    report = run(
        welcome({"quiet_hours": QUIET}),
        [
            joined("e1", "late", "2026-11-22T23:15:00+08:00"),
            joined("e2", "early", "2026-11-23T07:59:59+08:00"),
            joined("e3", "day", "2026-11-23T21:59:00+08:00"),
        ],
    )
    assert times(report, "hi") == {
        "late": "2026-11-23T08:00:00+08:00",
        "early": "2026-11-23T08:00:00+08:00",
        "day": "2026-11-23T21:59:00+08:00",
    }
    # The coupon is not a message: it goes at once.
    assert times(report, "coupon")["late"] == "2026-11-22T23:15:00+08:00"
    assert sent(report, "hi", "late")[0]["payload"]["text"] == "欢迎 late"
    assert runs(report) == {"done": 3}


def test_quiet_hours_end_on_local_time_across_a_dst_change() -> None:
    report = run(
        welcome({"quiet_hours": QUIET}, "America/New_York"),
        [joined("e1", "m", "2026-03-07T23:00:00-05:00"), joined("e2", "n", "2026-10-31T23:00:00-04:00")],
        until="2026-11-02T00:00:00-05:00",
    )
    assert times(report, "hi") == {"m": "2026-03-08T08:00:00-04:00", "n": "2026-11-01T08:00:00-05:00"}


def chatty(settings: dict[str, Any], flow_id: str = "f") -> dict[str, Any]:
    """Answers every message the member posts (re-entry always)."""
    return flow(
        flow_id,
        [node("t", "trigger.message"), node("reply", "action.send_message", text="收到")],
        [("t", "reply")],
        settings={"reentry": "always", **settings},
    )


def posts(member: str, *ats: str) -> list[dict[str, Any]]:
    return [
        event(f"{member}-{i}", "message", at, member=member, data={"text": "hi"}) for i, at in enumerate(ats)
    ]


def test_frequency_cap_is_a_sliding_window_and_the_run_waits_for_the_oldest_to_stop_counting() -> None:
    cap = {"frequency_cap": {"messages": 2, "per": "P1D"}}
    report = run(
        [chatty(cap), chatty({}, "other")],
        posts(
            "m",
            "2026-11-22T10:00:00+08:00",
            "2026-11-22T11:00:00+08:00",
            "2026-11-22T12:30:00+08:00",
            "2026-11-23T10:30:00+08:00",
        ),
    )
    reply = [d["at"] for d in sent(report, "reply") if d["flow"] == "f"]
    # The third reply waits until the 10:00 one stops counting (exactly 24 h later), then goes; the
    # fourth waits until the 11:00 one stops counting. Nothing is dropped.
    assert reply == [
        "2026-11-22T10:00:00+08:00",
        "2026-11-22T11:00:00+08:00",
        "2026-11-23T10:00:00+08:00",
        "2026-11-23T11:00:00+08:00",
    ]
    # Another flow has its own cap (none): it answered all four at once.
    assert [d["at"] for d in sent(report, "reply") if d["flow"] == "other"][2] == "2026-11-22T12:30:00+08:00"
    assert runs(report) == {"done": 4}


def test_frequency_cap_counts_per_member() -> None:
    cap = {"frequency_cap": {"messages": 1, "per": "PT6H"}}
    report = run(
        chatty(cap),
        posts("a", "2026-11-22T10:00:00+08:00", "2026-11-22T11:00:00+08:00")
        + posts("b", "2026-11-22T11:00:00+08:00"),
    )
    assert [(d["member"], d["at"]) for d in sent(report, "reply")] == [
        ("a", "2026-11-22T10:00:00+08:00"),
        ("b", "2026-11-22T11:00:00+08:00"),
        ("a", "2026-11-22T16:00:00+08:00"),
    ]


def test_quiet_hours_then_the_cap_both_defer_in_turn() -> None:
    settings = {"quiet_hours": QUIET, "frequency_cap": {"messages": 1, "per": "PT12H"}}
    report = run(chatty(settings), posts("m", "2026-11-22T21:00:00+08:00", "2026-11-22T23:00:00+08:00"))
    # The second reply is held by quiet hours until 08:00, then by the cap until 09:00.
    assert [d["at"] for d in sent(report, "reply")] == [
        "2026-11-22T21:00:00+08:00",
        "2026-11-23T09:00:00+08:00",
    ]


BROADCAST_MEMBERS = [
    {"id": "a", "tags": ["vip"], "name": "阿明"},
    {"id": "b", "tags": ["vip"], "name": "小贝"},
    {"id": "c", "tags": []},
]


@pytest.mark.parametrize("page", [2000, 1])
def test_broadcast_sends_one_message_per_member_and_defers_those_over_the_cap(
    page: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With pages of one member the audience is walked over several transactions: the member held by
    # the cap on the first page is still sent once, when the cap allows, and nobody twice.
    monkeypatch.setattr("qunflow.nodes.community.AUDIENCE_PAGE", page)
    document = flow(
        "f",
        [
            node("t", "trigger.schedule", cron="0 20 * * *"),
            node(
                "all",
                "action.broadcast",
                text="{{ member.name }}，今晚 8 点秒杀",
                audience={"tags_any": ["vip"]},
            ),
        ],
        [("t", "all")],
        settings={"reentry": "always", "frequency_cap": {"messages": 1, "per": "P1D"}},
    )
    # A reply node in the same flow shares its cap: `b` gets a reply at 19:00, before the broadcast.
    document["nodes"] += [node("m", "trigger.message"), node("hi", "action.send_message", text="在的")]
    document["edges"].append({"from": "m", "to": "hi"})
    report = run(
        document,
        [event("q", "message", "2026-11-22T19:00:00+08:00", member="b", data={"text": "?"})],
        until="2026-11-23T21:00:00+08:00",
        members=BROADCAST_MEMBERS,
    )
    assert [(d["member"], d["at"], d["payload"]["text"]) for d in sent(report, "all")] == [
        ("a", "2026-11-22T20:00:00+08:00", "阿明，今晚 8 点秒杀"),
        ("b", "2026-11-23T19:00:00+08:00", "小贝，今晚 8 点秒杀"),
        # The next day's fire: `a` at once; `b` got the deferred one at 19:00, so it waits until 19:00
        # on the 24th (after `until`): the first broadcast run is done, the second still waits.
        ("a", "2026-11-23T20:00:00+08:00", "阿明，今晚 8 点秒杀"),
    ]
    assert runs(report) == {"done": 2, "waiting": 1}


def test_broadcast_to_groups_posts_in_each_and_waits_out_quiet_hours() -> None:
    document = flow(
        "f",
        [
            node("t", "trigger.schedule", cron="30 23 * * *"),
            node(
                "post",
                "action.broadcast",
                text="{{ group.name }} 明早见",
                to="group",
                audience={"groups": ["g1", "g2"]},
            ),
        ],
        [("t", "post")],
        settings={"quiet_hours": QUIET},
    )
    report = run(
        document,
        [event("e", "custom", "2026-11-22T10:00:00+08:00", member=None)],
        until="2026-11-23T12:00:00+08:00",
        groups=[{"id": "g1", "name": "一群"}, {"id": "g2", "name": "二群"}],
    )
    assert [(d["at"], d["payload"]) for d in sent(report, "post")] == [
        ("2026-11-23T08:00:00+08:00", {"text": "一群 明早见", "to": "group", "group": "g1"}),
        ("2026-11-23T08:00:00+08:00", {"text": "二群 明早见", "to": "group", "group": "g2"}),
    ]


def befriend(timezone: str = "Asia/Shanghai", settings: dict[str, Any] | None = None) -> dict[str, Any]:
    return flow(
        "f",
        [
            node("t", "trigger.event", event="lead"),
            node("add", "action.add_friend", staff=["s1", "s2"], daily_limit=2),
            node("blocked", "action.add_tag", tags=["blocked"]),
        ],
        [("t", "add"), ("add", "blocked", "blocked")],
        timezone=timezone,
        settings=settings or {},
    )


def test_staff_daily_limit_counts_per_local_day_and_defers_to_the_next_day() -> None:
    leads = [event(f"l{i}", "lead", "2026-11-22T23:00:00+08:00", member=f"m{i}") for i in range(6)]
    report = run(befriend(), leads, members=[{"id": "m5", "blacklisted": True}])
    got = [(d["member"], d["payload"]["staff"], d["at"]) for d in sent(report, "add")]
    assert got == [
        ("m0", "s1", "2026-11-22T23:00:00+08:00"),
        ("m1", "s1", "2026-11-22T23:00:00+08:00"),
        ("m2", "s2", "2026-11-22T23:00:00+08:00"),
        ("m3", "s2", "2026-11-22T23:00:00+08:00"),
        # Every account is at its limit: the run waits for the next local day and tries again.
        ("m4", "s1", "2026-11-23T00:00:00+08:00"),
    ]
    # Blacklisted: never a friend request, the run leaves by `blocked`.
    assert "blocked" in report["members"]["m5"]["tags"]
    assert runs(report) == {"done": 6}


def test_friend_requests_held_by_the_daily_limit_wait_out_the_quiet_hours() -> None:
    # A day's leads use up both accounts by 10:00; the rest go the next day, when the quiet
    # hours (22:00-08:00) end, not at midnight. Requests under the limit are not held (DESIGN §5).
    leads = [event(f"l{i}", "lead", "2026-11-22T10:00:00+08:00", member=f"m{i}") for i in range(4)]
    leads += [event(f"n{i}", "lead", "2026-11-22T23:30:00+08:00", member=f"n{i}") for i in range(2)]
    report = run(befriend(settings={"quiet_hours": QUIET}), leads)
    got = [(d["member"], d["payload"]["staff"], d["at"]) for d in sent(report, "add")]
    assert got == [
        ("m0", "s1", "2026-11-22T10:00:00+08:00"),
        ("m1", "s1", "2026-11-22T10:00:00+08:00"),
        ("m2", "s2", "2026-11-22T10:00:00+08:00"),
        ("m3", "s2", "2026-11-22T10:00:00+08:00"),
        ("n0", "s1", "2026-11-23T08:00:00+08:00"),
        ("n1", "s1", "2026-11-23T08:00:00+08:00"),
    ]
    assert runs(report) == {"done": 6}


def test_held_friend_requests_go_at_midnight_or_when_the_quiet_hours_around_it_end() -> None:
    leads = [event(f"l{i}", "lead", "2026-11-22T21:00:00+08:00", member=f"m{i}") for i in range(5)]
    report = run(befriend(settings={"quiet_hours": {"start": "01:00", "end": "07:00"}}), leads)
    assert times(report, "add")["m4"] == "2026-11-23T00:00:00+08:00"
    report = run(befriend(settings={"quiet_hours": {"start": "21:30", "end": "06:30"}}), leads)
    assert times(report, "add")["m4"] == "2026-11-23T06:30:00+08:00"


def test_staff_daily_limit_day_follows_the_flow_timezone() -> None:
    # 23:30 in New York on 2026-03-07; the next local day starts at midnight EST (05:00 UTC).
    leads = [event(f"l{i}", "lead", "2026-03-07T23:30:00-05:00", member=f"m{i}") for i in range(5)]
    report = run(befriend("America/New_York"), leads)
    assert times(report, "add")["m4"] == "2026-03-08T00:00:00-05:00"


def test_past_deliveries_are_read_once_per_batch_not_once_per_step(
    engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = welcome({"frequency_cap": {"messages": 1, "per": "P1D"}})
    document["nodes"].append(node("friend", "action.add_friend", staff=["s1", "s2"]))
    document["edges"].append({"from": "hi", "to": "friend"})
    engine.deploy(document)
    reads: list[str] = []
    for name in ("message_delivery_times", "deliveries_since"):
        original = getattr(store, name)
        monkeypatch.setattr(store, name, lambda *a, _f=original, _n=name: reads.append(_n) or _f(*a))
    events = [joined(f"e{i}", f"m{i:02}", "2026-11-22T10:00:00+08:00") for i in range(50)]
    engine.ingest(convert_events(events))
    assert sorted(reads) == ["deliveries_since", "message_delivery_times"]
    sent_by = [d["payload"]["staff"] for d in store.deliveries(kind="friend_request")]
    assert sent_by == ["s1"] * 20 + ["s2"] * 20
    assert len(store.deliveries(kind="message")) == 50
