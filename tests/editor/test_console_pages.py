"""The operator console (issue #15): the runs filter, the deliveries page, names instead of ids."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import msgspec
from api_helpers import joined, visible_text, welcome_flow
from test_api_deliveries import Refusing
from test_pages import csrf_of

from qunflow.editor.demo import MARKER_MEMBER, load_demo
from qunflow.editor.i18n import catalogue
from qunflow.editor.services import Services
from qunflow.engine import Event
from qunflow.engine.outbox import Dispatcher
from qunflow.engine.store.leases import DELIVERY_STATUSES


def _two_members_waiting(services: Services) -> None:
    services.engine.deploy(welcome_flow())
    services.engine.ingest(
        [msgspec.convert(joined("e-1", "m-1"), type=Event), msgspec.convert(joined("e-2", "m-2"), type=Event)]
    )


def test_the_runs_filter_treats_empty_fields_as_no_filter(client, sign_in, services: Services) -> None:
    sign_in("operator")
    _two_members_waiting(services)
    for query in ("flow=&status=&member=", "flow=welcome&status=&member=", "flow=&status=waiting&member="):
        answer = client.get(f"/runs?{query}")
        assert answer.status_code == 200, query
        assert "Validation failed" not in answer.text, query
        assert len(re.findall(r'<tr id="run-\d+"', answer.text)) == 2, query
    only = client.get("/runs?flow=&status=&member=m-2").text
    assert len(re.findall(r'<tr id="run-\d+"', only)) == 1 and 'href="/members/m-2"' in only
    # The form keeps who was asked for, by her name (and sends her id: data-member-id, filters.js).
    assert 'value="小林"' in only and 'data-member-id="m-2"' in only
    none = client.get("/runs?flow=&status=failed&member=").text
    assert "run-" not in none and "没有符合条件的旅程" in none
    # The htmx part of the page answers the same way.
    part = client.get("/runs?flow=&status=waiting&member=m-1", headers={"HX-Request": "true"})
    assert part.status_code == 200 and part.text.lstrip().startswith('<div id="qf-runs"')
    assert len(re.findall(r'<tr id="run-\d+"', part.text)) == 1


def _coupons(services: Services, clock) -> list[int]:
    """m-1 (小林) and m-2 joined a day ago: their coupons are pending; ids oldest first."""
    _two_members_waiting(services)
    clock.advance_to(clock.now() + timedelta(days=1, minutes=1))
    services.run_due()
    return sorted(d["id"] for d in services.store.deliveries(flow_id="welcome"))


def _row(page: str, delivery_id: int) -> str:
    match = re.search(rf'<tr id="delivery-{delivery_id}">.*?</tr>', page, re.S)
    assert match, f"no row for delivery {delivery_id}"
    return match.group(0)


def test_the_deliveries_page_lists_by_name_with_honest_statuses(client, sign_in, services, clock) -> None:
    sign_in("viewer")
    first, second = _coupons(services, clock)
    services.store.cancel_delivery(second, services.now_us())
    page = client.get("/deliveries")
    assert page.status_code == 200
    assert 'href="/deliveries" aria-current="page"' in page.text and ">投递<" in page.text
    row = _row(page.text, first)
    # The flow's name, the member's name with the id beside it, the node's type title, the coupon.
    assert ">欢迎</a>" in row and "小林</a>" in row and "m-1" in row and "发优惠券" in row
    assert "welcome-10" in row and "待发送" in row and "优惠券" in row
    assert "2026-11-23 10:01" in row  # Asia/Shanghai, not UTC
    assert "已取消" in _row(page.text, second)
    assert "hx-post" not in page.text  # a viewer gets no buttons
    # Empty fields are no filter; filters narrow; the CSV link carries only the filters given.
    assert (
        len(re.findall(r'<tr id="delivery-', client.get("/deliveries?flow=&member=&kind=&status=").text)) == 2
    )
    only = client.get("/deliveries?flow=welcome&member=&kind=coupon&status=cancelled").text
    assert re.findall(r'<tr id="delivery-(\d+)"', only) == [str(second)]
    assert 'href="/api/deliveries?format=csv&amp;flow=welcome&amp;kind=coupon&amp;status=cancelled"' in only
    assert "没有符合条件的投递" in client.get("/deliveries?member=nobody").text
    assert client.get("/deliveries?status=lost").status_code == 422
    client.get("/lang/en")
    english = client.get("/deliveries").text
    assert "Deliveries" in english and "cancelled" in english and "投递" not in english


def test_an_operator_cancels_and_retries_from_the_page(client, sign_in, services, clock) -> None:
    sign_in("operator")
    first, second = _coupons(services, clock)
    page = client.get("/deliveries").text
    assert f'hx-post="/deliveries/{first}/cancel"' in page and "hx-confirm" in page
    htmx = {"X-CSRF-Token": csrf_of(page), "HX-Request": "true"}
    row = client.post(f"/deliveries/{first}/cancel", headers=htmx)
    assert row.status_code == 200 and row.text.lstrip().startswith(f'<tr id="delivery-{first}"')
    assert "已取消" in row.text and "hx-post" not in row.text
    again = client.post(f"/deliveries/{first}/cancel", headers=htmx)
    assert again.status_code == 409 and "is cancelled" in again.json()["message"]
    # A failed one gets a retry button; retried, it is pending again (and may be cancelled).
    Dispatcher(services.store, Refusing(), clock=clock).drain()
    page = client.get("/deliveries?status=failed").text
    assert "coupon service said 400" in _row(page, second)
    retried = client.post(f"/deliveries/{second}/retry", headers=htmx)
    assert "待发送" in retried.text and f'hx-post="/deliveries/{second}/cancel"' in retried.text
    # Without htmx (a plain form post) the list comes back.
    plain = client.post(f"/deliveries/{second}/cancel", data={"_csrf": csrf_of(page)}, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"].startswith("/deliveries")
    assert services.store.delivery_page(limit=1, id=second)[0]["status"] == "cancelled"


def test_every_delivery_status_and_reason_is_said_in_both_languages() -> None:
    for language in ("zh", "en"):
        said = catalogue(language)
        for status in DELIVERY_STATUSES:
            assert f"delivery:{status}" in said, (language, status)
        for reason in ("quota", "budget"):
            assert f"reason:{reason}" in said, (language, reason)
    assert catalogue("zh")["delivery:recorded"] == "已记录（未发送）"


def test_the_demo_pages_show_no_raw_json_and_say_what_a_condition_answered(client, sign_in, services) -> None:
    sign_in("operator")
    assert load_demo(services) is not None
    member = services.store.get_member(MARKER_MEMBER)
    paths = ["/flows", "/runs", "/deliveries", f"/members/{MARKER_MEMBER}", "/runs?status=waiting",
             "/deliveries?status=recorded", f"/runs?member={MARKER_MEMBER}", "/members", "/groups",
             "/content", "/staff", "/tasks", "/tasks?status=all"]  # fmt: skip
    for path in paths:
        answer = client.get(path)
        assert answer.status_code == 200, path
        text = visible_text(answer.text)
        assert '{"' not in text and "{'" not in text, (path, text[text.find("{") - 80 : text.find("{") + 80])
        # The Content-Security-Policy runs no inline script, style or handler: none is written.
        assert " onclick=" not in answer.text and "<style" not in answer.text, path
        scripts = [s.split(">")[0] for s in answer.text.split("<script")[1:]]
        assert all(" src=" in s or 'type="application/json"' in s for s in scripts), path
    timeline = client.get(f"/members/{MARKER_MEMBER}").text
    # Every new member passes anti-spam's 在黑名单？ check: said as its answer, not as "blacklisted".
    said = visible_text(timeline[timeline.index('class="qf-timeline"') :])
    assert re.search(r"防广告群规.*?在黑名单？\s*→\s*否", said, re.S), said[:2000]
    assert " blacklisted " not in said and "anti-spam" not in said
    assert member.name and member.name in timeline
    runs = visible_text(client.get(f"/runs?member={MARKER_MEMBER}").text)
    assert "防广告群规" in runs and "anti-spam" not in runs and member.name in runs


def test_the_runs_page_says_why_a_run_waits(client, sign_in, services: Services, clock) -> None:
    sign_in("operator")
    quiet = {
        "id": "night",
        "name": "夜间欢迎",
        "settings": {"quiet_hours": {"start": "22:00", "end": "08:00"}},
        "nodes": [
            {"id": "joined", "type": "trigger.member_joined", "config": {}},
            {"id": "hello", "type": "action.send_message", "config": {"text": "欢迎"}, "label": "欢迎语"},
        ],
        "edges": [{"from": "joined", "to": "hello"}],
    }
    buy = {
        "id": "buy",
        "name": "等下单",
        "nodes": [
            {"id": "joined", "type": "trigger.member_joined", "config": {}},
            {
                "id": "wait",
                "type": "wait.for_event",
                "config": {"event": "purchase", "timeout": "P2D"},
                "label": "等首单",
            },  # fmt: skip
        ],
        "edges": [{"from": "joined", "to": "wait"}],
    }
    services.engine.deploy(quiet)
    services.engine.deploy(buy)
    clock.advance_to(datetime.fromisoformat("2026-11-22T23:30:00+08:00"))
    late = joined("e-1", "m-1", at="2026-11-22T23:30:00+08:00")
    services.engine.ingest([msgspec.convert(late, type=Event)])
    page = visible_text(client.get("/runs?status=waiting").text)
    assert re.search(r"欢迎语.*?免打扰时段，2026-11-23 08:00 发送", page, re.S), page
    assert re.search(r"等首单.*?等待下单，最晚到 2026-11-24 23:30", page, re.S), page
    assert "T15:30" not in page and "+00:00" not in page  # no UTC times
    client.get("/lang/en")
    english = visible_text(client.get("/runs?status=waiting").text)
    assert "quiet hours: sends at 2026-11-23 08:00" in english
    assert "waiting for a purchase until 2026-11-24 23:30" in english


def test_every_page_of_the_demo_shows_names_not_json(client, sign_in, services) -> None:
    """Crawl every page the demo's pages link to: none shows raw JSON, and a group is shown by its
    name wherever the page speaks of it (its id may stand beside the name, never alone)."""
    sign_in("operator")
    assert load_demo(services) is not None
    named = services.store.group_names()
    assert named, "the demo has named groups"
    todo, seen = ["/"], set()
    while todo and len(seen) < 400:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        answer = client.get(path)
        assert answer.status_code == 200, path
        if "text/html" not in answer.headers.get("content-type", ""):
            continue
        text = visible_text(answer.text)
        assert '{"' not in text and "{'" not in text, (path, text[text.find("{") - 80 : text.find("{") + 80])
        for group_id, name in named.items():
            for found in re.finditer(rf"(?<![\w-]){re.escape(group_id)}(?![\w-])", text):
                nearby = text[max(0, found.start() - 80) : found.end() + 80]
                assert name in nearby, (path, group_id, nearby)
        for link in re.findall(r'href="(/[^"#]*)"', answer.text):
            link = html.unescape(link)
            if not link.startswith(("/static", "/logout", "/api", "/schema")) and "format=csv" not in link:
                todo.append(link)
    assert len(seen) > 40, "the crawl reached the demo's pages"
    member = visible_text(client.get(f"/members/{MARKER_MEMBER}").text)
    for group_id in services.store.get_member(MARKER_MEMBER).groups:
        assert named.get(group_id, group_id) in member


def test_an_operator_takes_one_member_out_of_a_flow(client, sign_in, services: Services, clock) -> None:
    """A waiting run is ended from the runs page (exited, reason removed) and its flow sends the
    member nothing more; the other member goes on. A finished run cannot be taken out (409)."""
    csrf = sign_in("operator")
    _two_members_waiting(services)
    runs = {r.member_id: r for r in services.store.runs(flow_id="welcome")}
    page = client.get("/runs?status=waiting").text
    assert page.count(">移出流程</button>") == 2
    answer = client.post(
        f"/runs/{runs['m-1'].id}/remove", headers={"X-CSRF-Token": csrf, "HX-Request": "true"}
    )
    assert answer.status_code == 200 and "已被手动移出流程" in visible_text(answer.text)
    clock.advance_to(clock.now() + timedelta(days=1, minutes=1))
    services.run_due()
    coupons = [d["member"] for d in services.store.deliveries(flow_id="welcome")]
    assert coupons == ["m-2"]  # m-1 got nothing more from the flow
    removed = services.store.runs(member_id="m-1", limit=5)[0]
    assert (removed.status, removed.reason) == ("exited", "removed")
    again = client.post(f"/api/runs/{runs['m-1'].id}/remove", headers={"X-CSRF-Token": csrf})
    assert again.status_code == 409 and "只有等待中的旅程可以移出" in again.text
