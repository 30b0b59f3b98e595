"""The members page (DESIGN §15): search and filters, bulk changes of the members ticked, and the
blacklist switch on a member's page; each change is in the member's timeline with who made it."""

from __future__ import annotations

from api_helpers import visible_text

from qunflow.engine.member import MemberRecord


def seed(services) -> None:
    records = [
        MemberRecord("m-1", "小林", tags=["vip"], groups=["g-fans-1"]),
        MemberRecord("m-2", "阿强", tags=["new"]),
        MemberRecord("m-3", "Lily", blacklisted=True),
    ]
    services.store.put_members([r.to_member(services.now_us()) for r in records])


def test_members_are_listed_searched_and_filtered(client, sign_in, services) -> None:
    seed(services)
    sign_in("viewer")
    page = client.get("/members")
    assert page.status_code == 200 and all(m in page.text for m in ("小林", "阿强", "Lily"))
    assert 'name="members"' not in page.text  # a viewer ticks nothing
    found = client.get("/members?q=小林", headers={"HX-Request": "true"}).text
    assert "m-1" in found and "m-2" not in found
    assert "m-3" in client.get("/members?blacklisted=true", headers={"HX-Request": "true"}).text
    assert "m-1" not in client.get("/members?blacklisted=true", headers={"HX-Request": "true"}).text
    assert "m-2" not in client.get("/members?tag=vip", headers={"HX-Request": "true"}).text
    assert client.post("/members/bulk", data={"members": ["m-1"], "add_tags": "x"}).status_code == 403


def test_bulk_changes_and_the_blacklist_switch(client, sign_in, services) -> None:
    seed(services)
    csrf = sign_in("operator")
    form = {
        "_csrf": csrf,
        "members": ["m-1", "m-2"],
        "add_tags": "gold， silver",
        "remove_tags": "new",
        "blacklist": "",
    }
    answer = client.post("/members/bulk", data=form, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/members?changed=2"
    assert services.store.get_member("m-2").tags == ["gold", "silver"]
    assert services.store.get_member("m-1").tags == ["vip", "gold", "silver"]

    answer = client.post(
        "/members/m-3/blacklist", data={"_csrf": csrf, "blacklist": "lift"}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/members/m-3"
    assert services.store.get_member("m-3").blacklisted is False
    page = client.get("/members/m-3")
    assert "操作人：operator-user" in page.text and "人工修改" in page.text  # the change, in words
    assert "member_edited" not in visible_text(page.text)
    assert 'value="set"' in page.text  # the switch now offers to blacklist again

    refused = client.post(
        "/members/bulk", data={"_csrf": csrf, "add_tags": "x"}, headers={"accept": "text/html"}
    )
    assert refused.status_code == 422 and "members" in refused.text


def test_the_community_pages_need_no_inline_script_or_style(client, sign_in, services) -> None:
    """A Content-Security-Policy of our own files only must not break them: scripts come from files,
    handlers are attached there (`data-confirm`, `data-tick-all`), and nothing is styled inline."""
    import re

    from qunflow.engine import ContentItem
    from qunflow.engine.member import GroupRecord, StaffRecord, TagRecord

    seed(services)
    services.store.put_groups([GroupRecord("g-1")])
    services.store.put_staff([StaffRecord("s-1")])
    services.store.put_tags([TagRecord("fans", color="#0b7a75")])
    services.store.put_content([ContentItem("c-1", "欢迎", text="你好")], services.now_us())
    sign_in("operator")
    for path in (
        "/groups",
        "/groups/g-1",
        "/content",
        "/content/c-1",
        "/staff",
        "/tags",
        "/members",
        "/members/m-3",
    ):
        page = client.get(path).text
        main = page[page.index("<main") : page.index("</main>")]  # ours; the frame is base.html's
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", main), path
        assert not re.search(r"\son[a-z]+=", main), path
        assert " style=" not in main, path
