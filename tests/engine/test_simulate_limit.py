"""A simulation can be bounded by work (#13.14): an every-minute cron over a year is half a million
fires, so a preview stops after a fixed amount of work and the report says where it stopped."""

from __future__ import annotations

from datetime import datetime, timedelta

from documents import event, flow, node

from qunflow.engine.event import convert_events
from qunflow.engine.simulate import WorkLimit, parse_moment, simulate

START = "2026-11-22T00:00:00+08:00"


def every_minute() -> dict[str, object]:
    return flow(
        "c",
        [
            node("t", "trigger.schedule", cron="* * * * *"),
            node("m", "action.send_message", text="hi", to="group", group="g-1"),
        ],
        [("t", "m")],
    )


def test_a_cron_preview_stops_at_its_limit_of_moments_and_says_where() -> None:
    report = simulate(
        [every_minute()], [], "P366D", start=parse_moment(START, "--start"), limit=WorkLimit(30, 10**6)
    )
    assert report["truncated"]["reason"] == "moments" and report["truncated"]["limit"] == 30
    stopped = datetime.fromisoformat(report["truncated"]["at"])
    assert stopped - datetime.fromisoformat(START) < timedelta(minutes=31)
    assert 0 < len(report["deliveries"]) <= 30
    assert all(datetime.fromisoformat(d["at"]) <= stopped for d in report["deliveries"])


def test_a_limit_of_steps_counts_runs_and_events() -> None:
    joins = [event(f"e{i}", "member_joined", START, member=f"m-{i}", group="g-1") for i in range(40)]
    tagging = flow(
        "f", [node("t", "trigger.member_joined"), node("a", "action.add_tag", tags=["x"])], [("t", "a")]
    )
    report = simulate([tagging], convert_events(joins), "P1D", limit=WorkLimit(1_000, 10))
    assert report["truncated"]["reason"] == "steps"


def test_within_its_limits_a_simulation_reports_as_ever() -> None:
    report = simulate(
        [every_minute()], [], "PT10M", start=parse_moment(START, "--start"), limit=WorkLimit(30, 1_000)
    )
    assert "truncated" not in report
    assert len(report["deliveries"]) == 10
    assert set(report) == {"deliveries", "members", "runs", "nodes"}
