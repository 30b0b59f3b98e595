"""The report pages in a real Chromium (DESIGN §17): each report draws its chart with uPlot under the
strict Content-Security-Policy (a canvas with pixels on it, no script or console error), the 报表 entry
in the navigation leads there, and the channels page takes a cost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from browser_kit import operator_page
from browser_server import chromium_missing, publish_to_docs, running_server, save_screenshot

from qunflow.editor.services import Services
from qunflow.engine.channel import ChannelRecord
from qunflow.engine.event import convert_events

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

if chromium_missing() is None:
    from playwright.sync_api import Browser, Page, expect

FLOW = {
    "id": "welcome",
    "name": "新人欢迎",
    "nodes": [
        {"id": "joined", "type": "trigger.member_joined"},
        {"id": "prospect", "type": "action.set_stage", "config": {"stage": "prospect"}},
        {"id": "hello", "type": "action.send_message", "config": {"text": "欢迎"}},
    ],
    "edges": [{"from": "joined", "to": "prospect"}, {"from": "prospect", "to": "hello"}],
    # A goal, so that the flows report has a conversion rate to draw (DESIGN §16).
    "settings": {"goal": {"event": "purchase", "within": "P7D"}},
}
BUYERS = {
    "id": "buyers",
    "nodes": [
        {"id": "bought", "type": "trigger.purchase"},
        {"id": "customer", "type": "action.set_stage", "config": {"stage": "customer"}},
    ],
    "edges": [{"from": "bought", "to": "customer"}],
    "settings": {"reentry": "always"},
}
# The pixels of the chart's canvas that are drawn on: axes, grid, lines and bars.
DRAWN_PIXELS = """() => {
  const canvas = document.querySelector('#qf-report-chart canvas');
  if (!canvas) return 0;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let drawn = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) drawn++;
  return drawn;
}"""


def _seed(database: Path) -> None:
    """Twelve members over the last four days through two channels and two groups: they join, post
    and some buy; a channel has a cost."""
    services = Services.open(f"sqlite:///{database}")
    services.store.migrate()
    services.engine.deploy(FLOW)
    services.engine.deploy(BUYERS)
    services.store.put_channel(ChannelRecord("qr-live", "直播码", 300.0), services.now_us())
    now = datetime.now(UTC)
    events = []
    for n in range(12):
        at = (now - timedelta(days=3 - n % 4, hours=1)).isoformat()
        member, channel, group = f"m-{n}", ("qr-live", "qr-store")[n % 2], f"g-{n % 2}"
        events.append({"id": f"j-{n}", "type": "member_joined", "member": member, "group": group,
                       "channel": channel, "at": at})  # fmt: skip
        events += [{"id": f"t-{n}-{k}", "type": "message", "member": member, "group": group, "at": at,
                    "data": {"text": "你好"}} for k in range(n % 3)]  # fmt: skip
        if n % 3 == 0:
            bought = (now - timedelta(days=3 - n % 4, minutes=30)).isoformat()
            events.append(
                {"id": f"p-{n}", "type": "purchase", "member": member, "at": bought, "data": {"amount": 99}}
            )
    services.engine.ingest(convert_events(sorted(events, key=lambda e: e["at"])))
    services.close()


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("reports") / "qunflow.db"
    _seed(database)
    with running_server(database) as url:
        yield url


@pytest.mark.parametrize("name", ["funnel", "channels", "groups", "deliveries", "flows"])
def test_each_report_page_draws_its_chart(browser: Browser, base_url: str, name: str) -> None:
    with operator_page(browser, base_url, next_path=f"/reports/{name}", console=True) as page:
        chart = page.locator("#qf-report-chart")
        expect(chart).to_have_attribute("data-drawn", "true")
        assert page.evaluate(DRAWN_PIXELS) > 500
        expect(page.locator("#qf-report-table tbody tr").first).to_be_visible()
        expect(page.locator(".u-legend")).to_be_visible()
        shot = save_screenshot(page, f"report-{name}")
        if name == "channels":
            publish_to_docs(shot, "reports.png")


def test_the_navigation_leads_to_the_reports_and_the_period_can_change(
    browser: Browser, base_url: str
) -> None:
    with operator_page(browser, base_url, console=True) as page:
        page.get_by_role("link", name="报表").click()
        page.wait_for_url("**/reports/funnel")
        today = datetime.now(UTC).date()
        page.fill("input[name=from]", (today - timedelta(days=6)).isoformat())
        page.click("#qf-report-period button[type=submit]")
        page.wait_for_url(f"**from={(today - timedelta(days=6)).isoformat()}*")
        expect(page.locator("#qf-report-chart")).to_have_attribute("data-drawn", "true")
        page.get_by_role("link", name="渠道效果").click()
        expect(page.locator("#qf-report-table")).to_contain_text("直播码")


def test_the_channels_page_takes_a_cost(browser: Browser, base_url: str) -> None:
    with operator_page(browser, base_url, next_path="/channels", console=True) as page:
        expect(page.locator("#qf-channels")).to_contain_text("qr-store")  # seen in members, no cost yet
        page.fill("#qf-channel-form input[name=id]", "qr-store")
        page.fill("#qf-channel-form input[name=name]", "门店码")
        page.fill("#qf-channel-form input[name=cost]", "120")
        page.click("#qf-channel-form button[type=submit]")
        page.wait_for_url("**/channels")
        expect(page.locator("#qf-channels")).to_contain_text("120.00")
        _open(page, "/reports/channels")
        expect(page.locator("#qf-report-table")).to_contain_text("门店码")


def _open(page: Page, path: str) -> None:
    page.goto(path)
    expect(page.locator("#qf-report-chart")).to_have_attribute("data-drawn", "true")


def test_a_chart_names_its_rows_by_name_where_they_have_one(browser: Browser, base_url: str) -> None:
    with operator_page(browser, base_url, next_path="/reports/channels", console=True) as page:
        expect(page.locator("#qf-report-chart")).to_have_attribute("data-drawn", "true")
        over = page.locator("#qf-report-chart .u-over")
        box = over.bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] * 0.05, box["y"] + box["height"] / 2)
        legend = page.locator(".u-legend")
        expect(legend).to_contain_text("直播码")  # the channel's name, not its id qr-live
        expect(legend).not_to_contain_text("qr-live")
