"""The groups page (DESIGN §15): list and search, create, edit, remove, and upload a file — all of it
or none of it, with the line and field of a bad one named."""

from __future__ import annotations

CSV = (
    "\ufeffid,name,tags,kind,capacity,owner\n"
    "g-fans-1,粉丝福利 1 群,fans,fans,200,s-1\n"
    "vip-1,VIP 1 群,vip;gold,vip,,\n"
)


def test_a_viewer_sees_the_list_and_no_forms(client, sign_in, services) -> None:
    from qunflow.engine.member import GroupRecord

    services.store.put_groups([GroupRecord("g-fans-1", "粉丝福利 1 群", ["fans"], "fans")])
    sign_in("viewer")
    page = client.get("/groups")
    assert page.status_code == 200
    assert "粉丝福利 1 群" in page.text and 'action="/groups/import"' not in page.text
    assert client.post("/groups", data={"id": "g-2"}).status_code == 403


def test_an_operator_creates_searches_edits_and_removes_a_group(client, sign_in) -> None:
    csrf = sign_in("operator")
    form = {"_csrf": csrf, "id": "g-fans-1", "name": "粉丝群", "tags": "fans， north", "kind": "fans",
            "capacity": "150", "owner": ""}  # fmt: skip
    answer = client.post("/groups", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    client.post("/groups", data={"_csrf": csrf, "id": "vip-1", "name": "VIP"})
    found = client.get("/groups?q=粉丝", headers={"HX-Request": "true"})
    assert "g-fans-1" in found.text and "vip-1" not in found.text and "<html" not in found.text
    edit = client.get("/groups/g-fans-1")
    assert 'value="fans; north"' in edit.text and 'value="150"' in edit.text
    client.post("/groups", data={**form, "capacity": "", "name": "改名"})
    assert "改名" in client.get("/groups/g-fans-1").text
    assert (
        client.post("/groups/g-fans-1/delete", data={"_csrf": csrf}, follow_redirects=False).status_code
        == 303
    )
    assert client.get("/groups/g-fans-1").status_code == 404


def test_a_bad_form_is_refused_naming_the_field(client, sign_in) -> None:
    csrf = sign_in("operator")
    for field, value in (("capacity", "-1"), ("capacity", "3000"), ("kind", "party"), ("id", "")):
        form = {"_csrf": csrf, "id": "g-1", field: value}
        answer = client.post("/groups", data=form, headers={"accept": "text/html"})
        assert answer.status_code == 422, (field, answer.text)
        assert field in answer.text
    assert "g-1" not in client.get("/groups").text


def test_an_upload_stores_every_group_or_none(client, sign_in, services) -> None:
    csrf = sign_in("operator")
    files = {"file": ("groups.csv", CSV.encode(), "text/csv")}
    answer = client.post("/groups/import", data={"_csrf": csrf}, files=files, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/groups?imported=2"
    assert services.store.get_group("vip-1")["tags"] == ["vip", "gold"]
    assert services.store.get_group("g-fans-1")["capacity"] == 200

    bad = CSV.replace("vip-1,VIP 1 群,vip;gold,vip,,", "g-3,三群,,vip,-5,") + "g-4,四群,,,,\n"
    files = {"file": ("groups.csv", bad.encode(), "text/csv")}
    answer = client.post("/groups/import", data={"_csrf": csrf}, files=files, headers={"HX-Request": "true"})
    assert answer.status_code == 422
    assert answer.json()["message"].startswith("groups.csv line 3: capacity:")
    assert [g["id"] for g in services.store.list_groups()] == ["g-fans-1", "vip-1"]

    jsonl = '{"id": "g-9", "name": "九群", "kind": "other"}\n'
    files = {"file": ("more.jsonl", jsonl.encode(), "application/octet-stream")}
    answer = client.post("/groups/import", data={"_csrf": csrf}, files=files, headers={"HX-Request": "true"})
    assert answer.status_code == 200 and "qf-imported" in answer.text
    assert answer.headers["HX-Trigger"] == "qf-groups-changed"
    assert services.store.get_group("g-9")["name"] == "九群"
