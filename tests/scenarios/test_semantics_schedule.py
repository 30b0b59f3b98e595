"""Cron schedules (DESIGN §5 "Cron", "Group-level runs", audiences): when they fire, for whom."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from documents import event, flow, node
from kit import run, runs, sent

from qunflow.engine import Engine, Member, Registry, SimClock, Store, check, default_registry
from qunflow.engine.clock import to_us
from qunflow.engine.member import MemberRecord

NY = "America/New_York"


def group_sop(cron: str, timezone: str = "Asia/Shanghai", **config: Any) -> dict[str, Any]:
    """A group-level SOP: on the cron, post in group g."""
    return flow(
        "f",
        [
            node("t", "trigger.schedule", cron=cron, **config),
            node("post", "action.send_message", text="早上好", to="group", group="g"),
        ],
        [("t", "post")],
        timezone=timezone,
        settings={"reentry": "always"},
    )


def fire_times(report: dict[str, Any]) -> list[str]:
    return [d["at"] for d in sent(report, "post")]


def test_daily_job_fires_once_at_the_first_valid_time_on_the_spring_forward_day() -> None:
    report = run(
        group_sop("30 2 * * *", NY),
        [event("e", "custom", "2026-03-06T12:00:00-05:00", member=None)],
        until="2026-03-09T12:00:00-04:00",
    )
    # 02:30 does not exist on 2026-03-08 (02:00 → 03:00): it fires at 03:00 EDT, once.
    assert fire_times(report) == [
        "2026-03-07T02:30:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
    ]


def test_daily_job_fires_once_on_the_fall_back_day() -> None:
    report = run(
        group_sop("30 1 * * *", NY),
        [event("e", "custom", "2026-10-31T12:00:00-04:00", member=None)],
        until="2026-11-02T12:00:00-05:00",
    )
    # 01:30 happens twice on 2026-11-01; the job fires at the first one only.
    assert fire_times(report) == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
    ]


def test_hourly_job_neither_doubles_in_the_gap_nor_repeats_the_repeated_hour() -> None:
    spring = run(
        group_sop("0 * * * *", NY),
        [event("e", "custom", "2026-03-08T00:30:00-05:00", member=None)],
        until="2026-03-08T04:30:00-04:00",
    )
    assert fire_times(spring) == [
        "2026-03-08T01:00:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T04:00:00-04:00",
    ]
    fall = run(
        group_sop("0 * * * *", NY),
        [event("e", "custom", "2026-11-01T00:30:00-04:00", member=None)],
        until="2026-11-01T02:30:00-05:00",
    )
    assert fire_times(fall) == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T02:00:00-05:00",
    ]


def test_weekly_cron_uses_the_flow_timezone() -> None:
    # Mondays 09:00 in Shanghai is Monday 01:00 UTC.
    report = run(
        group_sop("0 9 * * 1"), [event("e", "custom", "2026-11-22T10:00:00+08:00", member=None)], until="P15D"
    )
    assert fire_times(report) == [
        "2026-11-23T09:00:00+08:00",
        "2026-11-30T09:00:00+08:00",
        "2026-12-07T09:00:00+08:00",
    ]


def test_group_level_run_has_no_member_and_posts_to_its_group() -> None:
    report = run(
        group_sop("0 8 * * *"),
        [event("e", "member_joined", "2026-11-22T10:00:00+08:00", group="g")],
        until="2026-11-23T12:00:00+08:00",
    )
    [post] = sent(report, "post")
    assert post["member"] is None
    assert post["payload"] == {"text": "早上好", "to": "group", "group": "g"}
    assert runs(report) == {"done": 1}


AUDIENCE_MEMBERS = [
    {
        "id": "a",
        "tags": ["vip", "tea"],
        "groups": ["g1"],
        "grade": "S",
        "stage": "member",
        "total_spend": 500,
    },
    {"id": "b", "tags": ["vip"], "groups": ["g2"], "grade": "B", "stage": "customer", "total_spend": 80},
    {
        "id": "c",
        "tags": ["tea", "spam"],
        "groups": ["g1"],
        "grade": "A",
        "stage": "prospect",
        "total_spend": 0,
    },
    {"id": "d", "tags": [], "groups": [], "stage": "koc", "total_spend": 1200},
]


def audience_run(audience: dict[str, Any], events: list[dict[str, Any]] | None = None) -> list[str]:
    """Who a daily 08:00 schedule with this audience starts a run for on 2026-11-23."""
    document = flow(
        "f",
        [
            node("t", "trigger.schedule", cron="0 8 * * *", audience=audience),
            node("tag", "action.add_tag", tags=["hit"]),
        ],
        [("t", "tag")],
    )
    start = [event("e0", "custom", "2026-11-22T07:00:00+08:00", member=None)]
    report = run(
        document, start + (events or []), until="2026-11-23T09:00:00+08:00", members=AUDIENCE_MEMBERS
    )
    return sorted(m for m, v in report["members"].items() if "hit" in v["tags"])


def test_every_audience_filter_selects_its_members() -> None:
    assert audience_run({}) == ["a", "b", "c", "d"]
    assert audience_run({"tags_all": ["vip", "tea"]}) == ["a"]
    assert audience_run({"tags_any": ["tea", "nothing"]}) == ["a", "c"]
    assert audience_run({"tags_none": ["spam"]}) == ["a", "b", "d"]
    assert audience_run({"groups": ["g1"]}) == ["a", "c"]
    assert audience_run({"grades": ["S", "A"]}) == ["a", "c"]
    assert audience_run({"stages": ["koc", "customer"]}) == ["b", "d"]
    assert audience_run({"min_spend": 80}) == ["a", "b", "d"]
    assert audience_run({"max_spend": 80}) == ["b", "c"]
    assert audience_run({"min_spend": 1, "max_spend": 600, "tags_any": ["vip"]}) == ["a", "b"]


def test_inactive_days_counts_from_the_last_message_or_from_first_seen() -> None:
    # Members are first seen at the simulation start (2026-11-22 07:00); one day later nobody has been
    # silent for 2 days, and whoever posted within the day is active.
    assert audience_run({"inactive_days": 2}) == []
    assert audience_run({"inactive_days": 1}) == ["a", "b", "c", "d"]
    posted = [event("m1", "message", "2026-11-22T09:00:00+08:00", member="b", data={"text": "hi"})]
    assert audience_run({"inactive_days": 1}, posted) == ["a", "c", "d"]
    # Exactly N days after the last message counts as inactive: the post at 08:00 is 24 h before the fire.
    at_edge = [event("m1", "message", "2026-11-22T08:00:00+08:00", member="b", data={"text": "hi"})]
    assert audience_run({"inactive_days": 1}, at_edge) == ["a", "b", "c", "d"]


def test_bad_cron_is_a_validation_problem_on_the_node() -> None:
    _, _, problems = check(group_sop("61 8 * * *"), default_registry())
    assert [(p.node, p.path) for p in problems] == [("t", "config")]
    assert "cron" in problems[0].message


def _one_fire_flow() -> dict[str, Any]:
    return flow(
        "f",
        [
            node("t", "trigger.schedule", cron="0 8 * * *", audience={}),
            node("tag", "action.add_points", points=1),
        ],
        [("t", "tag")],
        settings={"reentry": "always"},
    )


def test_missed_fires_while_down_give_one_catch_up_fire_on_start(store: Store, registry: Registry) -> None:
    clock = SimClock(datetime(2026, 11, 22, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai
    store.put_members([_member("m-1", clock)])
    Engine(store, registry, clock).deploy(_one_fire_flow())
    # The engine is down for three 08:00 ticks (23rd, 24th, 25th); a new engine starts on the 25th at noon.
    clock.advance_to(datetime(2026, 11, 25, 4, 0, tzinfo=UTC))
    engine = Engine(store, registry, clock)
    assert engine.next_wake() == datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    assert engine.run_due() == 1
    assert store.all_members()["m-1"].points == 1
    assert engine.run_due() == 0
    assert engine.next_wake() == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
    clock.advance_to(datetime(2026, 11, 26, 0, 0, tzinfo=UTC))
    assert engine.run_due() == 1
    assert store.all_members()["m-1"].points == 2


def test_an_audience_is_handed_out_in_batches_each_member_once(store: Store, registry: Registry) -> None:
    clock = SimClock(datetime(2026, 11, 22, 2, 0, tzinfo=UTC))
    store.put_members([_member(f"m-{i:02}", clock) for i in range(10)])
    engine = Engine(store, registry, clock, batch_size=3)
    engine.deploy(_one_fire_flow())
    clock.advance_to(datetime(2026, 11, 23, 0, 0, tzinfo=UTC))
    assert engine.run_due() == 10
    assert {m.points for m in store.all_members().values()} == {1}
    clock.advance_to(clock.now() + timedelta(hours=1))
    assert engine.run_due() == 0


def _member(member_id: str, clock: SimClock) -> Member:
    return MemberRecord(id=member_id).to_member(to_us(clock.now()))


def test_a_resumed_flow_does_not_catch_up_the_ticks_missed_while_paused(
    store: Store, registry: Registry
) -> None:
    clock = SimClock(datetime(2026, 11, 22, 2, 0, tzinfo=UTC))
    store.put_members([_member("m-1", clock)])
    engine = Engine(store, registry, clock)
    engine.deploy(_one_fire_flow())
    engine.set_paused("f", True)
    clock.advance_to(datetime(2026, 11, 24, 4, 0, tzinfo=UTC))
    assert engine.next_wake() is None
    assert engine.run_due() == 0
    engine.set_paused("f", False)
    assert engine.run_due() == 0
    assert engine.next_wake() == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    assert store.all_members()["m-1"].points == 0
