"""`/api/reports/{name}` (DESIGN §17): each report's columns against a small community built through the
API, day by day under the simulated clock; the CSV; the period's checks; who may read them."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from api_helpers import bearer

from qunflow.editor.services import Services
from qunflow.engine import SimClock
from qunflow.engine.outbox import Dispatcher

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY1 = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
DAY2 = datetime(2026, 11, 24, 11, 0, tzinfo=SHANGHAI)
PERIOD = "from=2026-11-23&to=2026-11-24"

STAGES_FLOW = {
    "id": "stages",
    "nodes": [
        {"id": "joined", "type": "trigger.member_joined"},
        {"id": "prospect", "type": "action.set_stage", "config": {"stage": "prospect"}},
        {"id": "hello", "type": "action.send_message", "config": {"text": "欢迎"}},
    ],
    "edges": [{"from": "joined", "to": "prospect"}, {"from": "prospect", "to": "hello"}],
    "settings": {"reentry": "always"},
}
BUYERS_FLOW = {
    "id": "buyers",
    "nodes": [
        {"id": "bought", "type": "trigger.purchase"},
        {"id": "customer", "type": "action.set_stage", "config": {"stage": "customer"}},
    ],
    "edges": [{"from": "bought", "to": "customer"}],
    "settings": {"reentry": "always"},
}


def _event(n: int, kind: str, member: str, at: datetime, **extra: object) -> dict[str, object]:
    return {"id": f"e-{n}", "type": kind, "member": member, "at": at.isoformat(), **extra}


@pytest.fixture
def community(client, tokens, services: Services, clock: SimClock) -> dict[str, str]:
    """Five members over two days (see each test for what they did); now is day 2, 12:00."""
    auth = bearer(tokens["operator"])
    for channel, body in (
        ("qr-a", {"name": "直播码", "cost": 100}),
        ("qr-b", {"name": "门店码", "cost": 50}),
    ):
        assert client.put(f"/api/channels/{channel}", json=body, headers=auth).status_code == 200
    client.post(
        "/api/groups", json=[{"id": "g-1", "name": "粉丝群"}, {"id": "g-2", "name": "福利群"}], headers=auth
    )
    for flow in (STAGES_FLOW, BUYERS_FLOW):
        assert client.post("/api/flows", json=flow, headers=auth).status_code in (200, 201)
        assert client.post(f"/api/flows/{flow['id']}/publish", headers=auth).status_code in (200, 201)
    clock.advance_to(DAY1)
    day1 = [
        _event(1, "member_joined", "m-1", DAY1, group="g-1", channel="qr-a"),
        _event(2, "member_joined", "m-2", DAY1, group="g-1", channel="qr-a"),
        _event(3, "member_joined", "m-3", DAY1, group="g-2", channel="qr-b"),
        _event(4, "contact_added", "m-4", DAY1, channel="qr-b"),
        _event(5, "message", "m-1", DAY1, group="g-1", data={"text": "你好"}),
        _event(6, "purchase", "m-1", DAY1, data={"amount": 30}),
    ]
    assert client.post("/api/events", json=day1, headers=auth).status_code == 202
    assert Dispatcher(services.store, clock=clock).drain().recorded == 3
    clock.advance_to(DAY2)
    day2 = [
        _event(7, "message", "m-2", DAY2, group="g-1", data={"text": "在吗"}),
        _event(8, "message", "m-2", DAY2, group="g-1", data={"text": "在吗"}),
        _event(9, "member_left", "m-3", DAY2, group="g-2"),
        _event(10, "purchase", "m-2", DAY2, data={"amount": 20}),
        _event(11, "purchase", "m-2", DAY2, data={"amount": 10}),
        _event(12, "contact_deleted", "m-4", DAY2, data={"by": "customer"}),
        _event(13, "member_joined", "m-5", DAY2, group="g-2"),
    ]
    assert client.post("/api/events", json=day2, headers=auth).status_code == 202
    pending = [d for d in services.store.deliveries() if d["status"] == "pending"]
    assert [d["member"] for d in pending] == ["m-5"]
    assert client.post(f"/api/deliveries/{pending[0]['id']}/cancel", headers=auth).status_code == 200
    clock.advance_to(datetime(2026, 11, 24, 12, 0, tzinfo=SHANGHAI))
    return auth


def _rows(client, auth, name: str, query: str = PERIOD) -> list[dict[str, object]]:
    answer = client.get(f"/api/reports/{name}?{query}", headers=auth)
    assert answer.status_code == 200, answer.text
    return answer.json()["rows"]


def test_the_funnel_counts_each_stage_at_each_days_end(client, community) -> None:
    # Day 1 (11-23): m-1 bought (customer); m-2 and m-3 joined (prospects). Day 2: m-2 bought; m-5 joined.
    rows = _rows(client, community, "funnel")
    assert rows == [
        {"day": "2026-11-23", "prospect": 2, "customer": 1, "member": 0, "koc": 0,
         "to_customer": pytest.approx(1 / 3), "to_member": 0.0, "to_koc": None},
        {"day": "2026-11-24", "prospect": 2, "customer": 2, "member": 0, "koc": 0,
         "to_customer": 0.5, "to_member": 0.0, "to_koc": None},
    ]  # fmt: skip
    # Days to come have no row; a day before any stage has zeros.
    assert [r["day"] for r in _rows(client, community, "funnel", "from=2026-11-22&to=2026-11-27")] == [
        "2026-11-22", "2026-11-23", "2026-11-24",
    ]  # fmt: skip


def test_channels_set_each_channels_members_against_its_cost(client, community) -> None:
    # qr-a brought m-1 (bought 30, posted day 1) and m-2 (bought 20 + 10, posted day 2); qr-b brought
    # m-3 (a member who left a group: still a contact) and m-4 (deleted the contact); m-5 no channel.
    rows = _rows(client, community, "channels")
    assert rows == [
        {"channel": "qr-a", "name": "直播码", "added": 2, "contacts": 2, "active_7d": 2, "purchasers": 2,
         "revenue": 60.0, "cost": 100.0, "profit": -40.0, "cost_per_purchaser": 50.0},
        {"channel": "qr-b", "name": "门店码", "added": 2, "contacts": 1, "active_7d": 0, "purchasers": 0,
         "revenue": 0.0, "cost": 50.0, "profit": -50.0, "cost_per_purchaser": None},
        {"channel": None, "name": None, "added": 1, "contacts": 1, "active_7d": 0, "purchasers": 0,
         "revenue": 0.0, "cost": 0.0, "profit": 0.0, "cost_per_purchaser": None},
    ]  # fmt: skip
    # Only the members who came in the period count: on day 2 alone, m-5 did (qr-a and qr-b keep their costs).
    day2 = {
        r["channel"]: r["added"]
        for r in _rows(client, community, "channels", "from=2026-11-24&to=2026-11-24")
    }
    assert day2 == {"qr-a": 0, "qr-b": 0, None: 1}


def test_groups_are_ranked_by_messages_per_member_a_day(client, community) -> None:
    # g-1: m-1 and m-2 joined, 3 messages in 2 days, both posted; g-2: m-3 joined and left, m-5 joined.
    rows = _rows(client, community, "groups")
    assert rows == [
        {"rank": 1, "group": "g-1", "name": "粉丝群", "members": 2, "joins": 2, "leaves": 0, "messages": 3,
         "messages_per_member_day": 0.75, "active_share": 1.0},
        {"rank": 2, "group": "g-2", "name": "福利群", "members": 1, "joins": 2, "leaves": 1, "messages": 0,
         "messages_per_member_day": 0.0, "active_share": 0.0},
    ]  # fmt: skip


def test_deliveries_say_what_became_of_each_days_deliveries(client, community) -> None:
    # Three welcomes on day 1, recorded (no connector sends); m-5's on day 2, cancelled.
    zero = dict.fromkeys(("pending", "sent", "recorded", "awaiting_confirmation", "failed",
                          "skipped_budget", "skipped_quota", "cancelled"), 0)  # fmt: skip
    assert _rows(client, community, "deliveries") == [
        {"day": "2026-11-23", "kind": "message", **zero, "made": 3, "recorded": 3},
        {"day": "2026-11-24", "kind": "message", **zero, "made": 1, "cancelled": 1},
    ]


def test_a_report_downloads_as_csv_in_the_pages_language(client, community) -> None:
    answer = client.get(f"/api/reports/channels?{PERIOD}&format=csv", headers=community)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert table[0][:3] == ["渠道", "名称", "新增成员"]
    assert table[1][:4] == ["qr-a", "直播码", "2", "2"] and len(table) == 4
    client.cookies.set("qunflow_lang", "en")
    english = client.get(f"/api/reports/groups?{PERIOD}&format=csv", headers=community)
    assert english.content.decode("utf-8-sig").splitlines()[0].startswith("Rank,Group,Name,Members")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-13-01", "from"),
        ("from=yesterday", "from"),
        ("to=2026-02-30", "to"),
        ("from=2026-01-07&to=2026-01-05", "from"),
        ("from=2024-01-01&to=2026-01-05", "from"),
        ("format=xml", "format"),
    ],
)
def test_a_bad_period_is_refused_naming_the_field(client, tokens, query: str, field: str) -> None:
    answer = client.get(f"/api/reports/funnel?{query}", headers=bearer(tokens["viewer"]))
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["message"]


def test_reports_are_read_by_viewers_and_operators_not_ingest_tokens(client, tokens) -> None:
    assert client.get("/api/reports/funnel", headers=bearer(tokens["viewer"])).status_code == 200
    assert client.get("/api/reports/funnel", headers=bearer(tokens["ingest"])).status_code == 403
    assert client.get("/api/reports/funnel").status_code == 401
    assert client.get("/api/reports/nothing", headers=bearer(tokens["viewer"])).status_code == 404
    listed = client.get("/api/reports", headers=bearer(tokens["viewer"])).json()
    assert [r["name"] for r in listed] == ["funnel", "channels", "groups", "deliveries", "flows"]


def test_an_empty_community_gets_empty_rows_and_says_what_to_do(client, tokens) -> None:
    answer = client.get("/api/reports/channels", headers=bearer(tokens["viewer"])).json()
    assert answer["rows"] == [] and "在「渠道」页添加渠道并设置成本" in answer["empty"]["zh"]
    assert (answer["from"], answer["to"], answer["timezone"]) == ("2026-10-24", "2026-11-22", "Asia/Shanghai")


def test_channel_costs_are_kept_by_operators_and_read_by_viewers(client, tokens) -> None:
    operator, viewer = bearer(tokens["operator"]), bearer(tokens["viewer"])
    answer = client.put("/api/channels/qr-live", json={"name": "直播", "cost": 120.5}, headers=operator)
    assert answer.json() == {"id": "qr-live", "name": "直播", "cost": 120.5}
    assert client.put("/api/channels/qr-live", json={"cost": 1}, headers=viewer).status_code == 403
    refused = client.put("/api/channels/qr-live", json={"cost": -1}, headers=operator)
    assert refused.status_code == 422 and "cost" in refused.json()["message"]
    mismatched = client.put("/api/channels/qr-live", json={"id": "other"}, headers=operator)
    assert mismatched.status_code == 422 and "id" in mismatched.json()["message"]
    assert client.get("/api/channels", headers=viewer).json() == [
        {"id": "qr-live", "name": "直播", "cost": 120.5}
    ]
    assert client.delete("/api/channels/qr-live", headers=operator).status_code == 204
    assert client.get("/api/channels/qr-live", headers=viewer).status_code == 404


def test_flows_say_how_many_entered_and_converted_against_the_holdout(
    client, tokens, services: Services, clock: SimClock
) -> None:
    """Two members join a flow whose goal is a purchase within 7 days; one buys the next day."""
    auth = bearer(tokens["operator"])
    flow = {
        **STAGES_FLOW,
        "id": "goal",
        "name": "有目标",
        "settings": {"goal": {"event": "purchase", "within": "P7D"}},
    }
    assert client.post("/api/flows", json=flow, headers=auth).status_code == 200
    assert client.post("/api/flows/goal/publish", headers=auth).status_code == 200
    clock.advance_to(DAY1)
    joined = [_event(n, "member_joined", f"m-{n}", DAY1, group="g-1") for n in (1, 2)]
    assert client.post("/api/events", json=joined, headers=auth).status_code == 202
    clock.advance_to(DAY2)
    bought = [_event(3, "purchase", "m-1", DAY2, data={"amount": 30})]
    assert client.post("/api/events", json=bought, headers=auth).status_code == 202
    (row,) = _rows(client, auth, "flows")
    assert row == {
        "flow": "goal", "name": "有目标", "entered": 2, "converted": 1, "conversion_rate": 0.5,
        "holdout_entered": 0, "holdout_converted": 0, "holdout_conversion_rate": None, "lift": None,
        "messages_sent": 0, "deliveries_failed": 0,
    }  # fmt: skip
    # Outside the period nobody entered.
    assert _rows(client, auth, "flows", "from=2026-11-25&to=2026-11-26")[0]["entered"] == 0
