"""The content library page (话术库, DESIGN §15): list, search, create, edit, remove and upload."""

from __future__ import annotations

JSONL = (
    '{"id": "welcome-script", "title": "欢迎话术", "text": "{{ member.name }}，欢迎！"}\n'
    '{"id": "poster", "title": "双11 海报", "kind": "image", "media": {"url": "https://cdn.example.com/p.png"}}\n'
)


def test_an_operator_creates_edits_finds_and_removes_items(client, sign_in, services) -> None:
    csrf = sign_in("operator")
    card = {"miniprogram_appid": "wx1", "miniprogram_page": "pages/index", "miniprogram_title": "进店"}
    form = {"_csrf": csrf, "id": "card", "title": "商城卡片", "kind": "miniprogram", **card}
    assert client.post("/content", data=form, follow_redirects=False).status_code == 303
    item = services.store.get_content("card")
    assert (item.kind, item.miniprogram.appid, item.media) == ("miniprogram", "wx1", None)
    page = client.get("/content/card")
    assert 'value="pages/index"' in page.text and "商城卡片" in page.text
    client.post("/content", data={**form, "title": "新卡片", "text": "看看 {{ member.name }}"})
    assert services.store.get_content("card").text == "看看 {{ member.name }}"
    found = client.get("/content?q=新卡", headers={"HX-Request": "true"})
    assert "card" in found.text and "<html" not in found.text
    assert "/content/card" not in client.get("/content?kind=image", headers={"HX-Request": "true"}).text
    assert (
        client.post("/content/card/delete", data={"_csrf": csrf}, follow_redirects=False).status_code == 303
    )
    assert client.get("/content/card").status_code == 404


def test_a_bad_item_is_refused_naming_the_field(client, sign_in, services) -> None:
    csrf = sign_in("operator")
    for form, field in (
        ({"id": "x", "title": "t", "kind": "image"}, "media"),
        ({"id": "x", "title": "t", "kind": "image", "media_url": "not a url"}, "media.url"),
        ({"id": "x", "title": "t", "text": "{{ member.nickname }}"}, "member.nickname"),
        ({"id": "x", "title": "", "text": "hi"}, "title"),
    ):
        answer = client.post("/content", data={"_csrf": csrf, **form}, headers={"accept": "text/html"})
        assert answer.status_code == 422, (form, answer.text)
        assert field in answer.text
    assert services.store.list_content() == []


def test_an_upload_stores_every_item_or_none(client, sign_in, services) -> None:
    csrf = sign_in("operator")
    files = {"file": ("content.jsonl", JSONL.encode(), "application/octet-stream")}
    answer = client.post("/content/import", data={"_csrf": csrf}, files=files, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/content?imported=2"
    assert services.store.get_content("poster").media.url == "https://cdn.example.com/p.png"
    bad = JSONL + '{"id": "z", "title": "z", "kind": "video"}\n'
    files = {
        "file": ("content.jsonl", bad.replace("poster", "poster-2").encode(), "application/octet-stream")
    }
    answer = client.post("/content/import", data={"_csrf": csrf}, files=files, headers={"HX-Request": "true"})
    assert answer.status_code == 422 and answer.json()["message"].startswith("content.jsonl line 3:")
    assert [i.id for i in services.store.list_content()] == ["poster", "welcome-script"]
    csv = "id,title,kind,link.url,link.title\nl-1,活动页,link,https://example.com/a,双11 活动\n"
    files = {"file": ("links.csv", csv.encode(), "text/csv")}
    answer = client.post("/content/import", data={"_csrf": csrf}, files=files, headers={"HX-Request": "true"})
    assert answer.status_code == 200 and answer.headers["HX-Trigger"] == "qf-content-changed"
    assert services.store.get_content("l-1").link.title == "双11 活动"


def test_an_item_a_published_flow_sends_cannot_be_removed(client, sign_in, services) -> None:
    from test_api_content import sending

    from qunflow.engine import ContentItem

    services.store.put_content([ContentItem("welcome-script", "欢迎", text="你好")], services.now_us())
    services.engine.save_draft(sending("welcome-script"))
    services.engine.publish("send")
    csrf = sign_in("operator")
    answer = client.post(
        "/content/welcome-script/delete", data={"_csrf": csrf}, headers={"accept": "text/html"}
    )
    assert answer.status_code == 409 and "send" in answer.text
    assert services.store.get_content("welcome-script").text == "你好"


def test_the_editor_page_offers_the_stored_community_data(client, sign_in, services) -> None:
    from qunflow.engine import ContentItem
    from qunflow.engine.member import GroupRecord, Member, StaffRecord, TagRecord

    services.store.put_members([Member("m-1", groups=["vip-1"], is_new=True)])
    services.store.put_groups([GroupRecord("vip-1", "VIP 1 群", capacity=200)])
    services.store.put_staff([StaffRecord("s-1", "小王")])
    services.store.put_tags([TagRecord("fans")])
    services.store.put_content([ContentItem("welcome-script", "欢迎", text="你好")], services.now_us())
    sign_in("viewer")
    page = client.get("/flows/any-flow").text
    assert "1/200" in page  # the group's fill: members / its own capacity
    assert "welcome-script" in page and "s-1" in page and "fans" in page
