"""Working days (DESIGN §18): mainland China's holidays and make-up working days (调休), or Monday to
Friday, for `on: workday|offday` on wait.until_time, trigger.schedule and condition.time_window."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import chinese_calendar
import pytest
from documents import event, flow, node
from kit import run, sent, times

from qunflow.engine import check, default_registry
from qunflow.engine.workdays import is_workday


def waiting(wait: dict[str, Any], calendar: str | None = None) -> dict[str, Any]:
    settings = {"calendar": calendar} if calendar else {}
    return flow(
        "f",
        [node("t", "trigger.member_joined"), wait, node("coupon", "action.send_coupon", coupon="c")],
        [("t", wait["id"]), (wait["id"], "coupon")],
        settings=settings,
    )


def joins(**moments: str) -> list[dict[str, Any]]:
    return [event(f"j-{m}", "member_joined", at, member=m, group="g") for m, at in moments.items()]


def test_next_working_day_after_the_national_day_holiday() -> None:
    report = run(
        waiting(node("w", "wait.until_time", time="09:00", on="workday")),
        joins(
            before_holiday="2026-09-30T18:00:00+08:00",
            in_holiday="2026-10-03T10:00:00+08:00",
            makeup_friday_night="2026-10-09T20:00:00+08:00",
        ),
        until="P20D",
    )
    assert times(report, "coupon") == {
        # 10-01 … 10-07 are the National Day holiday.
        "before_holiday": "2026-10-08T09:00:00+08:00",
        "in_holiday": "2026-10-08T09:00:00+08:00",
        # Saturday 10-10 is a make-up working day (调休).
        "makeup_friday_night": "2026-10-10T09:00:00+08:00",
    }


def test_the_plain_calendar_knows_only_weekends() -> None:
    report = run(
        waiting(node("w", "wait.until_time", time="09:00", on="workday"), calendar="none"),
        joins(before_holiday="2026-09-30T18:00:00+08:00", friday_night="2026-10-09T20:00:00+08:00"),
        until="P20D",
    )
    assert times(report, "coupon") == {
        "before_holiday": "2026-10-01T09:00:00+08:00",
        "friday_night": "2026-10-12T09:00:00+08:00",
    }


def test_next_day_off() -> None:
    report = run(
        waiting(node("w", "wait.until_time", time="10:00", on="offday")),
        # Friday 10-09: the Saturday after is a make-up working day, so the next day off is Sunday.
        joins(friday="2026-10-09T12:00:00+08:00"),
        until="P10D",
    )
    assert times(report, "coupon") == {"friday": "2026-10-11T10:00:00+08:00"}


def test_a_daily_working_day_schedule_fires_on_exactly_the_working_days() -> None:
    document = flow(
        "f",
        [
            node("t", "trigger.schedule", cron="0 9 * * *", on="workday"),
            node("post", "action.send_message", text="早上好", to="group", group="g"),
        ],
        [("t", "post")],
        settings={"reentry": "always"},
    )
    report = run(
        document,
        [event("e", "custom", "2026-08-31T12:00:00+08:00", member=None)],
        until="2026-11-01T00:00:00+08:00",
    )
    fired = sorted(d["at"][:10] for d in sent(report, "post"))
    days = [date(2026, 9, 1) + timedelta(days=i) for i in range(61)]
    expected = [d.isoformat() for d in days if chinese_calendar.is_workday(d)]
    assert fired == expected
    # The Saturdays 09-20 (调休 before Mid-Autumn) … and 10-10 are in; the National Day week is out.
    assert "2026-10-10" in fired and "2026-10-05" not in fired


def test_time_window_on_working_days() -> None:
    document = flow(
        "f",
        [
            node("t", "trigger.member_joined"),
            node("office", "condition.time_window", start="09:00", end="18:00", on="workday"),
            node("yes", "action.add_tag", tags=["office"]),
            node("no", "action.add_tag", tags=["later"]),
        ],
        [("t", "office"), ("office", "true", "yes"), ("office", "false", "no")],
    )
    report = run(
        document,
        joins(
            holiday_monday="2026-10-05T10:00:00+08:00",
            makeup_saturday="2026-10-10T10:00:00+08:00",
            working_evening="2026-10-12T19:00:00+08:00",
        ),
    )
    assert report["members"]["holiday_monday"]["tags"] == ["later"]
    assert report["members"]["makeup_saturday"]["tags"] == ["office"]
    assert report["members"]["working_evening"]["tags"] == ["later"]


def test_a_year_without_data_falls_back_to_weekdays(caplog: pytest.LogCaptureFixture) -> None:
    # chinese-calendar 1.11 carries data up to 2026; later years fall back to Monday to Friday.
    year = next(y for y in range(2027, 2100) if _lacks_data(y))
    caplog.set_level(logging.WARNING, logger="qunflow.calendar")
    saturday = next(date(year, 6, d) for d in range(1, 8) if date(year, 6, d).weekday() == 5)
    assert is_workday(saturday - timedelta(days=1), "cn") is True
    assert is_workday(saturday, "cn") is False
    assert is_workday(saturday + timedelta(days=2), "cn") is True
    logged = [r for r in caplog.records if str(year) in r.getMessage()]
    assert len(logged) <= 1  # once per process and year (an earlier test may have logged it)


def _lacks_data(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 5))
    except NotImplementedError:
        return True
    return False


def test_an_unknown_calendar_or_day_kind_is_refused_naming_the_field() -> None:
    registry = default_registry()
    document = waiting(node("w", "wait.until_time", time="09:00"), calendar="hk")
    _, _, problems = check(document, registry)
    assert any("calendar" in p.path for p in problems), problems
    document = waiting(node("w", "wait.until_time", time="09:00", on="weekday"))
    _, _, problems = check(document, registry)
    assert [(p.node, "on" in p.path) for p in problems] == [("w", True)], problems


def test_a_flow_without_a_calendar_takes_the_communitys_and_its_own_wins() -> None:
    wait = node("w", "wait.until_time", time="09:00", on="workday")
    before = joins(before_holiday="2026-09-30T18:00:00+08:00")
    plain = run(waiting(wait), before, until="P20D", settings={"calendar": "none"})
    # Monday to Friday: Thursday 10-01 is a working day.
    assert times(plain, "coupon") == {"before_holiday": "2026-10-01T09:00:00+08:00"}
    own = run(waiting(wait, calendar="cn"), before, until="P20D", settings={"calendar": "none"})
    assert times(own, "coupon") == {"before_holiday": "2026-10-08T09:00:00+08:00"}
