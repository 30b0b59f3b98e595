"""Scenario tests of the wait nodes: times checked to the second in the flow's timezone."""

from __future__ import annotations

from typing import Any

from documents import event, flow, node
from kit import run, runs, sent, times


def waiting(wait: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """join → wait → coupon."""
    return flow(
        "f",
        [node("t", "trigger.member_joined"), wait, node("coupon", "action.send_coupon", coupon="c")],
        [("t", wait["id"]), (wait["id"], "coupon")],
        **extra,
    )


def joins(**moments: str) -> list[dict[str, Any]]:
    return [event(f"j-{m}", "member_joined", at, member=m, group="g") for m, at in moments.items()]


def test_delay_is_exactly_the_duration_to_the_second() -> None:
    report = run(
        waiting(node("w", "wait.delay", duration="P1D")),
        joins(a="2026-11-22T10:00:17+08:00", b="2026-11-22T23:59:59+08:00"),
        until="P3D",
    )
    assert times(report, "coupon") == {"a": "2026-11-23T10:00:17+08:00", "b": "2026-11-23T23:59:59+08:00"}
    assert runs(report) == {"done": 2}
    assert report["nodes"]["f"] == {"t": 2, "w": 2, "coupon": 2}


def test_delay_is_elapsed_time_across_a_dst_change() -> None:
    report = run(
        waiting(node("w", "wait.delay", duration="P1DT30M"), timezone="America/New_York"),
        joins(a="2026-03-07T12:00:00-05:00"),
    )
    # 24.5 hours later; clocks went forward in between, so the wall clock reads 13:30.
    assert times(report, "coupon") == {"a": "2026-03-08T13:30:00-04:00"}


def test_a_run_still_waiting_at_the_end_is_reported_waiting() -> None:
    report = run(
        waiting(node("w", "wait.delay", duration="P2D")), joins(a="2026-11-22T10:00:00+08:00"), until="P1D"
    )
    assert sent(report) == []
    assert runs(report) == {"waiting": 1}
    assert report["nodes"]["f"] == {"t": 1, "w": 1}


def test_until_time_next_morning() -> None:
    report = run(
        waiting(node("w", "wait.until_time", time="08:00")),
        joins(
            evening="2026-11-22T20:00:00+08:00",
            early="2026-11-23T07:59:59+08:00",
            exact="2026-11-23T08:00:00+08:00",
            after="2026-11-23T08:00:01+08:00",
        ),
    )
    assert times(report, "coupon") == {
        "evening": "2026-11-23T08:00:00+08:00",
        "early": "2026-11-23T08:00:00+08:00",
        "exact": "2026-11-23T08:00:00+08:00",
        "after": "2026-11-24T08:00:00+08:00",
    }


def test_until_time_on_weekdays() -> None:
    report = run(
        waiting(node("w", "wait.until_time", time="09:30", days=["mon", "thu"])),
        joins(
            sunday="2026-11-22T10:00:00+08:00",
            monday_late="2026-11-23T10:00:00+08:00",
            friday="2026-11-27T09:00:00+08:00",
        ),
    )
    assert times(report, "coupon") == {
        "sunday": "2026-11-23T09:30:00+08:00",
        "monday_late": "2026-11-26T09:30:00+08:00",
        "friday": "2026-11-30T09:30:00+08:00",
    }


def test_until_time_in_the_flows_timezone_over_a_dst_gap() -> None:
    flow_ny = waiting(node("w", "wait.until_time", time="02:30"), timezone="America/New_York")
    report = run(flow_ny, joins(gap="2026-03-07T12:00:00-05:00", after="2026-03-08T12:00:00-04:00"))
    # 02:30 does not exist on 2026-03-08 in New York: the first valid moment after the gap is 03:00.
    assert times(report, "coupon") == {
        "gap": "2026-03-08T03:00:00-04:00",
        "after": "2026-03-09T02:30:00-04:00",
    }


def test_until_time_on_a_repeated_hour_takes_the_first() -> None:
    flow_ny = waiting(node("w", "wait.until_time", time="01:30"), timezone="America/New_York")
    report = run(flow_ny, joins(a="2026-10-31T12:00:00-04:00"))
    assert times(report, "coupon") == {"a": "2026-11-01T01:30:00-04:00"}


BUYING = flow(
    "f",
    [
        node("t", "trigger.member_joined"),
        node("settle", "wait.delay", duration="PT1H"),
        node(
            "buy",
            "wait.for_event",
            event="purchase",
            timeout="P1D",
            where={"field": "data.amount", "op": "gte", "value": 50},
        ),
        node("thanks", "action.send_message", text="谢谢购买{{ event.data.product }}"),
        node("coupon", "action.send_coupon", coupon="nudge"),
    ],
    [("t", "settle"), ("settle", "buy"), ("buy", "event", "thanks"), ("buy", "timeout", "coupon")],
)


def purchase(id: str, member: str, at: str, amount: float, product: str = "茶") -> dict[str, Any]:
    return event(id, "purchase", at, member=member, data={"amount": amount, "product": product})


def test_for_event_takes_the_event_port_or_times_out_at_wait_start_plus_timeout() -> None:
    joined = "2026-11-22T10:00:00+08:00"  # every wait starts at 11:00:00
    report = run(
        BUYING,
        [
            *joins(buyer=joined, early=joined, small=joined, idle=joined, edge=joined),
            purchase("p1", "buyer", "2026-11-22T12:34:56+08:00", 80, "茶具"),
            # before the wait began: does not count
            purchase("p2", "early", "2026-11-22T10:30:00+08:00", 80),
            # too small for `where`, then a big one
            purchase("p3", "small", "2026-11-22T12:00:00+08:00", 10),
            purchase("p4", "small", "2026-11-22T15:00:00+08:00", 60, "咖啡"),
            # someone else's purchase does not wake me
            purchase("p5", "stranger", "2026-11-22T12:00:00+08:00", 99),
            # after the timeout has been taken: too late
            purchase("p6", "edge", "2026-11-23T11:00:01+08:00", 99),
        ],
        until="P3D",
    )
    assert {(d["member"], d["at"], d["payload"]["text"]) for d in sent(report, "thanks")} == {
        ("buyer", "2026-11-22T12:34:56+08:00", "谢谢购买茶具"),
        ("small", "2026-11-22T15:00:00+08:00", "谢谢购买咖啡"),
    }
    assert times(report, "coupon") == {
        "early": "2026-11-23T11:00:00+08:00",
        "idle": "2026-11-23T11:00:00+08:00",
        "edge": "2026-11-23T11:00:00+08:00",
    }
    assert runs(report) == {"done": 5}
    assert report["nodes"]["f"] == {"t": 5, "settle": 5, "buy": 5, "thanks": 2, "coupon": 3}


def test_for_event_waiting_runs_are_counted_waiting() -> None:
    report = run(BUYING, joins(a="2026-11-22T10:00:00+08:00"), until="2026-11-22T12:00:00+08:00")
    assert runs(report) == {"waiting": 1}
    assert report["nodes"]["f"] == {"t": 1, "settle": 1, "buy": 1}


def test_for_event_on_an_event_that_also_starts_a_run() -> None:
    """The event that starts a run does not also resume that run's wait on the same event type."""
    doc = flow(
        "f",
        [
            node("t", "trigger.purchase"),
            node("again", "wait.for_event", event="purchase", timeout="P7D"),
            node("loyal", "action.add_tag", tags=["loyal"]),
        ],
        [("t", "again"), ("again", "event", "loyal")],
    )
    report = run(doc, [purchase("p1", "m", "2026-11-22T10:00:00+08:00", 10)], until="P2D")
    assert report["members"]["m"]["tags"] == []
    assert runs(report) == {"waiting": 1}
    report = run(
        doc,
        [
            purchase("p1", "m", "2026-11-22T10:00:00+08:00", 10),
            purchase("p2", "m", "2026-11-23T10:00:00+08:00", 10),
        ],
        until="P2D",
    )
    assert report["members"]["m"]["tags"] == ["loyal"]
    assert runs(report) == {"done": 1}
