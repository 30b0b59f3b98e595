"""The report pages and the channels page (DESIGN §17) as the server renders them: the 报表 entry, the
empty states that say what to do, the period's checks, English titles, and who may enter costs."""

from __future__ import annotations

import pytest

from qunflow.editor.services import Services
from qunflow.engine.channel import ChannelRecord


def test_the_nav_leads_to_the_first_report(client, sign_in) -> None:
    sign_in("viewer")
    assert 'href="/reports"' in client.get("/flows").text
    answer = client.get("/reports", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/reports/funnel")


@pytest.mark.parametrize(
    ("name", "says", "link"),
    [
        ("funnel", "还没有成员有生命周期阶段", "/flows"),
        ("channels", "还没有渠道数据：在「渠道」页添加渠道并设置成本", "/channels"),
        ("groups", "还没有群", "/groups"),
        ("deliveries", "所选时间内没有投递", "/flows"),
    ],
)
def test_an_empty_report_says_what_to_do(client, sign_in, name: str, says: str, link: str) -> None:
    sign_in("viewer")
    page = client.get(f"/reports/{name}")
    assert page.status_code == 200
    assert says in page.text and f'href="{link}"' in page.text
    assert 'id="qf-report-chart"' not in page.text  # nothing to draw
    assert "<script>" not in page.text and "/static/vendor/uplot/uPlot.iife.min.js" in page.text


def test_a_report_page_has_its_chart_table_and_csv(client, sign_in, services: Services) -> None:
    services.store.put_channel(ChannelRecord("qr-live", "直播码", 300.0), services.now_us())
    sign_in("operator")
    page = client.get("/reports/channels?from=2026-11-01&to=2026-11-22").text
    assert 'data-report="/api/reports/channels?from=2026-11-01&amp;to=2026-11-22"' in page
    assert 'href="/api/reports/channels?from=2026-11-01&amp;to=2026-11-22&amp;format=csv"' in page
    assert "直播码" in page and "300.00" in page and '<th scope="col">每购买人成本</th>' in page
    client.cookies.set("qunflow_lang", "en")
    assert '<th scope="col">Cost per purchaser</th>' in client.get("/reports/channels").text


def test_a_bad_period_on_a_page_is_refused_naming_the_field(client, sign_in) -> None:
    sign_in("viewer")
    answer = client.get("/reports/groups?from=2026-11-30&to=2026-11-01")
    assert answer.status_code == 400 and "from" in answer.text
    assert client.get("/reports/nothing").status_code == 404


def test_operators_enter_channel_costs_and_viewers_read_them(client, sign_in, services: Services) -> None:
    csrf = sign_in("operator")
    answer = client.post(
        "/channels",
        data={"_csrf": csrf, "id": "qr-live", "name": "直播码", "cost": "99.5"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert services.store.get_channel("qr-live") == ChannelRecord("qr-live", "直播码", 99.5)
    refused = client.post("/channels", data={"_csrf": csrf, "id": "qr-x", "cost": "-3"})
    assert refused.status_code == 422 and "cost" in refused.text
    assert "99.50" in client.get("/channels").text
    removed = client.post("/channels/qr-live/delete", data={"_csrf": csrf}, follow_redirects=False)
    assert removed.status_code == 303 and services.store.list_channels() == []
    sign_in("viewer")
    page = client.get("/channels").text
    assert 'id="qf-channel-form"' not in page
    assert client.post("/channels", data={"id": "qr-y"}).status_code == 403
