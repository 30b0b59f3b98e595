"""`POST /api/nodes/moments` (DESIGN §18): the next moments a wait, a schedule or a time window would
pick, under the flow's working-day calendar, computed by the node's own step."""

from __future__ import annotations

import pytest
from api_helpers import bearer

# 18:00 on the eve of the 2026 National Day holiday (10-01 … 10-07 off; Saturday 10-10 is worked).
EVE = "2026-09-30T18:00:00+08:00"
AFTER_HOLIDAY = [
    ("2026-10-08T09:00:00+08:00", "thu", "workday"),
    ("2026-10-09T09:00:00+08:00", "fri", "workday"),
    ("2026-10-10T09:00:00+08:00", "sat", "makeup"),
]


def moments(client, token, **body) -> list[tuple[str, str, str]]:
    answer = client.post("/api/nodes/moments", json={"after": EVE, **body}, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return [(m["at"], m["weekday"], m["day"]) for m in answer.json()["moments"]]


@pytest.mark.parametrize(
    ("node_type", "config"),
    [
        ("wait.until_time", {"time": "09:00", "on": "workday"}),
        ("trigger.schedule", {"cron": "0 9 * * *", "on": "workday"}),
        ("condition.time_window", {"start": "09:00", "end": "18:00", "on": "workday"}),
    ],
)
def test_the_next_working_day_skips_the_holiday_and_takes_the_make_up_saturday(
    client, tokens, node_type, config
) -> None:
    assert moments(client, tokens["viewer"], type=node_type, config=config) == AFTER_HOLIDAY


def test_days_off_calendars_and_the_answer_in_full(client, tokens) -> None:
    token = tokens["viewer"]
    off = moments(client, token, type="wait.until_time", config={"time": "09:00", "on": "offday"})
    assert off == [
        ("2026-10-01T09:00:00+08:00", "thu", "holiday"),
        ("2026-10-02T09:00:00+08:00", "fri", "holiday"),
        ("2026-10-03T09:00:00+08:00", "sat", "weekend"),
    ]
    plain = moments(
        client, token, type="wait.until_time", config={"time": "09:00", "on": "workday"},
        settings={"calendar": "none"}, count=4,
    )  # fmt: skip
    assert [at[:10] for at, _, _ in plain] == ["2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06"]
    # Any day: the same evening is past 09:00, so the next morning first.
    anyday = moments(client, token, type="wait.until_time", config={"time": "09:00"}, count=1)
    assert anyday == [("2026-10-01T09:00:00+08:00", "thu", "holiday")]
    body = {
        "type": "wait.until_time",
        "config": {"time": "08:30"},
        "timezone": "UTC",
        "after": EVE,
        "count": 1,
    }
    answer = client.post("/api/nodes/moments", json=body, headers=bearer(token)).json()
    assert answer == {
        "type": "wait.until_time",
        "timezone": "UTC",
        "moments": [
            {
                "at": "2026-10-01T08:30:00+00:00",
                "date": "2026-10-01",
                "time": "08:30",
                "weekday": "thu",
                "day": "holiday",
            }  # fmt: skip
        ],
    }
    # A node that picks no moment of the clock.
    assert moments(client, token, type="wait.delay", config={"duration": "P1D"}) == []
    assert moments(client, token, type="action.add_tag", config={"tags": ["x"]}) == []


def test_bad_input_names_the_field(client, tokens) -> None:
    auth = bearer(tokens["viewer"])
    until = {"type": "wait.until_time", "config": {"time": "09:00"}}
    cases = [
        ({"type": "wait.nope"}, "type"),
        ({"type": "wait.until_time", "config": {"time": "9 o'clock"}}, "config.time"),
        ({**until, "settings": {"calendar": "mars"}}, "settings.calendar"),
        ({**until, "timezone": "Mars/Base"}, "timezone"),
        ({**until, "count": 11}, "count"),
    ]
    for body, field in cases:
        answer = client.post("/api/nodes/moments", json=body, headers=auth)
        assert answer.status_code == 422, answer.text
        assert field in answer.json()["message"] or answer.json().get("field") == field
    assert client.post("/api/nodes/moments", json={"type": "wait.delay"}).status_code == 401
