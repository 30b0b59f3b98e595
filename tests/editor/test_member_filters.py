"""The member filter of the runs and deliveries pages (issue #15): an operator names a member, never
types an id. The plain form sends what was typed; the server takes an id as it is, else a member's
whole name, else the only member whose name or id holds the text; several → which one, by name;
none → said so. The page says who it shows ("成员：小林") and the field shows her name."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, quote, urlsplit

import msgspec
import pytest
from api_helpers import visible_text, welcome_flow

from qunflow.editor.member_lookup import CHOICES_SHOWN
from qunflow.editor.services import Services
from qunflow.engine import Event

PEOPLE = {"m-1": "小林", "m-2": "林大海", "m-3": "阿强", "m-4": "阿强", "m-5": "Anna Lee"}
PAGES = {"/runs": r'<tr id="run-\d+"', "/deliveries": r'<tr id="delivery-\d+"'}


def _everyone_joined(services: Services, clock) -> None:
    """Each of PEOPLE joined a day ago: a run of 欢迎 each, and a coupon delivery each."""
    services.engine.deploy(welcome_flow())
    events = [
        {"id": f"e-{member}", "type": "member_joined", "member": member, "group": "g-1",
         "at": "2026-11-22T10:00:00+08:00", "profile": {"name": name}}
        for member, name in PEOPLE.items()
    ]  # fmt: skip
    services.engine.ingest([msgspec.convert(e, type=Event) for e in events])
    clock.advance_to(clock.now() + timedelta(days=1, minutes=1))
    services.run_due()


def _members_listed(page: str) -> list[str]:
    """The members whose rows the page lists (their links), in order."""
    return re.findall(r'<td><a href="/members/([^"]+)">', page)


def _ask(client, path: str, member: str, **headers: str) -> str:
    answer = client.get(f"{path}?flow=&member={quote(member)}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.text


@pytest.fixture
def everyone(client, sign_in, services: Services, clock) -> None:
    sign_in("operator")
    _everyone_joined(services, clock)


@pytest.mark.parametrize("path", PAGES)
def test_an_id_still_filters_and_the_page_says_her_name(client, everyone, path: str) -> None:
    page = _ask(client, path, "m-1")
    assert _members_listed(page) == ["m-1"]
    # The field shows her name and the form knows her id; the summary says her name, not the id.
    assert 'value="小林"' in page and 'data-member-id="m-1"' in page
    summary = visible_text(re.search(r'<p class="qf-filter-summary".*?</p>', page, re.S).group(0))
    assert "成员：小林" in summary and "m-1" not in summary
    # A member's page links here by her id.
    assert f'href="{path}?member=m-1"' in client.get("/members/m-1").text


@pytest.mark.parametrize("path", PAGES)
def test_a_name_that_is_one_members_filters_by_her(client, everyone, path: str) -> None:
    page = _ask(client, path, "小林")  # 林大海's name holds 林 too, but 小林 is her whole name
    assert _members_listed(page) == ["m-1"]
    assert "成员：小林" in visible_text(page) and 'data-member-id="m-1"' in page
    # A part of a name that only one member has; a name in another case.
    assert _members_listed(_ask(client, path, "大海")) == ["m-2"]
    assert _members_listed(_ask(client, path, " anna lee ")) == ["m-5"]
    # The download link of the page asks by her id.
    if path == "/deliveries":
        assert 'href="/api/deliveries?format=csv&amp;member=m-5"' in _ask(client, path, "anna lee")


@pytest.mark.parametrize("path", PAGES)
def test_a_name_several_members_have_asks_which_one(client, everyone, path: str) -> None:
    page = _ask(client, path, "阿强")
    assert _members_listed(page) == []  # no rows of either until the operator picks one
    which = re.search(r'<div class="qf-card qf-which".*?</div>', page, re.S).group(0)
    assert "有 2 位成员叫“阿强”，要看哪一位？" in visible_text(which)
    links = re.findall(r'<a class="qf-member-choice" href="([^"]+)">([^<]+)</a>', which)
    assert [name for _, name in links] == ["阿强", "阿强"]
    hrefs = [html.unescape(href) for href, _ in links]
    assert [parse_qs(urlsplit(h).query)["member"] for h in hrefs] == [["m-3"], ["m-4"]]
    # Following one shows her rows only.
    assert _members_listed(client.get(hrefs[1]).text) == ["m-4"]
    # A part of several names: the same question, listing them by name.
    part = _ask(client, path, "林")
    assert "有多位成员的名字或 ID 含有“林”" in visible_text(part) and _members_listed(part) == []
    assert re.findall(r'class="qf-member-choice" href="[^"]+">([^<]+)</a>', part) == ["小林", "林大海"]
    assert "没有符合条件的" not in visible_text(part)


@pytest.mark.parametrize("path", PAGES)
def test_a_name_no_member_has_says_so(client, everyone, path: str) -> None:
    page = visible_text(_ask(client, path, "王五"))
    assert "没有叫“王五”的成员，也没有成员的名字或 ID 含有它。" in page
    assert "没有符合条件的" in page and _members_listed(page) == []
    client.get("/lang/en")
    english = visible_text(_ask(client, path, "王五"))
    assert "No member is called “王五”, and no member's name or ID has it in it." in english


@pytest.mark.parametrize("path", PAGES)
def test_the_htmx_part_resolves_names_too(client, everyone, path: str) -> None:
    part = _ask(client, path, "小林", **{"HX-Request": "true"})
    assert part.lstrip().startswith(f'<div id="qf-{path[1:]}"')
    assert _members_listed(part) == ["m-1"] and "成员：小林" in visible_text(part)
    which = _ask(client, path, "阿强", **{"HX-Request": "true"})
    assert "有 2 位成员叫“阿强”" in visible_text(which)
    if path == "/deliveries":  # the download link outside the part follows the filter
        assert re.search(r'<a id="qf-deliveries-csv" href="[^"]*member=m-1"[^>]*hx-swap-oob="true"', part)


def test_the_summary_says_every_filter_in_words(client, everyone) -> None:
    runs = visible_text(client.get("/runs?flow=welcome&status=waiting&member=m-1").text)
    assert re.search(r"筛选条件：\s*流程：欢迎\s*状态：等待中\s*成员：小林", runs), runs
    deliveries = client.get("/deliveries?flow=welcome&kind=coupon&status=recorded&member=小林").text
    said = re.sub(r"\s+", " ", visible_text(deliveries))
    assert "筛选条件： 流程：欢迎 类型：优惠券 状态：已记录（未发送） 成员：小林" in said, said
    client.get("/lang/en")
    english = visible_text(client.get("/deliveries?kind=friend_request").text)
    assert "Kind: friend request" in english and "friend_request" not in english
    # With no filter there is nothing to summarise.
    assert "qf-filter-summary" not in client.get("/runs").text


def test_many_members_with_a_name_part_are_listed_up_to_a_limit(client, sign_in, services) -> None:
    sign_in("viewer")
    events = [
        {"id": f"e-{i}", "type": "member_updated", "member": f"x-{i:02}", "at": "2026-11-22T10:00:00+08:00",
         "profile": {"name": f"晓{i:02}"}}
        for i in range(CHOICES_SHOWN + 2)
    ]  # fmt: skip
    services.engine.ingest([msgspec.convert(e, type=Event) for e in events])
    page = visible_text(client.get("/runs?member=晓").text)
    assert f"只列出了前 {CHOICES_SHOWN} 位" in page
    # The store's exact-name look-up, any case, on either backend.
    assert [m.id for m in services.store.members_named("晓03")] == ["x-03"]
    assert services.store.members_named("晓") == []
