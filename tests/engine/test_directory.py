"""Groups as operators register them (DESIGN §15), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest

from qunflow.engine import Store
from qunflow.engine.errors import Conflict, NotFound
from qunflow.engine.member import GroupRecord, Member


def groups(*records: dict) -> list[GroupRecord]:
    return [GroupRecord(**r) for r in records]


def test_groups_are_created_updated_and_keep_their_member_count(store: Store) -> None:
    store.put_members(
        [Member("m-1", groups=["g-1"], is_new=True), Member("m-2", groups=["g-1"], is_new=True)]
    )
    store.put_groups(
        groups(
            {"id": "g-1", "name": "粉丝福利 1 群", "tags": ["fans", "fans"], "kind": "fans", "capacity": 200},
            {"id": "g-2", "name": "VIP", "owner": "s-1"},
        )
    )
    assert store.get_group("g-1") == {
        "id": "g-1",
        "name": "粉丝福利 1 群",
        "kind": "fans",
        "tags": ["fans"],
        "capacity": 200,
        "owner": None,
        "members": 2,
    }
    store.put_groups(groups({"id": "g-1", "name": "改名"}))  # a registration replaces what it names
    assert store.get_group("g-1")["name"] == "改名"
    assert store.get_group("g-1")["capacity"] is None
    assert store.get_group("g-1")["members"] == 2
    assert store.get_group("g-2")["owner"] == "s-1"
    with store.transaction() as conn:
        assert store.load_groups(conn, ["g-2"])["g-2"]["owner"] == "s-1"
        assert store.group_capacities(conn) == {}


def test_the_last_record_of_an_id_wins_and_progress_is_reported(store: Store) -> None:
    written: list[int] = []
    store.put_groups(groups({"id": "g-1", "name": "一"}, {"id": "g-1", "name": "二"}), done=written.append)
    assert store.get_group("g-1")["name"] == "二"
    assert written == [1]


def test_groups_are_searched_by_id_or_name_and_filtered_by_tag_and_kind(store: Store) -> None:
    store.put_groups(
        groups(
            {"id": "g-fans-1", "name": "粉丝福利 1 群", "tags": ["fans"], "kind": "fans"},
            {"id": "g-fans-2", "name": "粉丝福利 2 群", "tags": ["fans", "north"], "kind": "fans"},
            {"id": "vip-1", "name": "VIP 尊享群", "tags": ["vip"], "kind": "vip", "capacity": 150},
            {"id": "odd_100%", "name": None},
        )
    )
    ids = lambda found: [g["id"] for g in found]  # noqa: E731
    assert ids(store.list_groups()) == ["g-fans-1", "g-fans-2", "odd_100%", "vip-1"]
    assert ids(store.list_groups(q="福利")) == ["g-fans-1", "g-fans-2"]
    assert ids(store.list_groups(q="FANS-2")) == ["g-fans-2"]
    assert ids(store.list_groups(q="vip")) == ["vip-1"]  # the name's "VIP", any case
    assert ids(store.list_groups(q="0%")) == ["odd_100%"]  # % is a character, not a wildcard
    assert ids(store.list_groups(q="_")) == ["odd_100%"]
    assert ids(store.list_groups(tag="north")) == ["g-fans-2"]
    assert ids(store.list_groups(kind="vip")) == ["vip-1"]
    assert ids(store.list_groups(limit=2, offset=1)) == ["g-fans-2", "odd_100%"]
    with store.transaction() as conn:
        assert store.group_capacities(conn) == {"vip-1": 150}


def test_a_group_is_removed_only_when_no_member_is_in_it(store: Store) -> None:
    store.put_members([Member("m-1", groups=["g-1"], is_new=True)])
    store.put_groups(groups({"id": "g-1"}, {"id": "g-2"}))
    with pytest.raises(Conflict, match="1 members"):
        store.delete_group("g-1")
    store.delete_group("g-2")
    with pytest.raises(NotFound):
        store.get_group("g-2")
    with pytest.raises(NotFound):
        store.delete_group("g-2")
    assert store.get_group("g-1")["members"] == 1


def test_the_content_library_is_stored_searched_and_guarded_by_published_flows(store: Store) -> None:
    from qunflow.engine import ContentItem, Engine
    from qunflow.engine.content import Media

    script = ContentItem("welcome-script", "欢迎话术", text="{{ member.name }}，欢迎！")
    poster = ContentItem("poster_100%", "海报", kind="image", media=Media("https://cdn.example.com/p.png"))
    written: list[int] = []
    store.put_content([script, poster, script], 1, done=written.append)
    assert written == [2]
    assert store.get_content("poster_100%") == poster
    assert [i.id for i in store.list_content()] == ["poster_100%", "welcome-script"]
    assert [i.id for i in store.list_content(q="欢迎")] == ["welcome-script"]
    assert [i.id for i in store.list_content(q="MEMBER.NAME")] == ["welcome-script"]  # the text, any case
    assert [i.id for i in store.list_content(q="0%")] == ["poster_100%"]
    assert [i.id for i in store.list_content(kind="image")] == ["poster_100%"]
    assert set(store.content_index()) == {"poster_100%", "welcome-script"}

    engine = Engine(store)
    document = {
        "id": "send",
        "nodes": [
            {"id": "t", "type": "trigger.member_joined", "config": {}},
            {"id": "m", "type": "action.send_message", "config": {"content": "welcome-script"}},
        ],
        "edges": [{"from": "t", "to": "m"}],
    }
    engine.save_draft(document)
    store.put_content([ContentItem("spare", "备用", text="hi")], 2)
    spare = {
        **document,
        "id": "draft-only",
        "nodes": [document["nodes"][0], {**document["nodes"][1], "config": {"content": "spare"}}],
    }
    engine.save_draft(spare)
    store.delete_content("spare")  # a draft does not hold an item: it is checked when published
    engine.publish("send")
    with pytest.raises(Conflict, match="send"):
        store.delete_content("welcome-script")
    store.delete_content("poster_100%")
    with pytest.raises(NotFound):
        store.get_content("poster_100%")


def test_staff_and_the_tag_library(store: Store) -> None:
    from qunflow.engine.member import StaffRecord, TagRecord

    store.put_staff([StaffRecord("s-2", "小李"), StaffRecord("s-1", "小王", 15), StaffRecord("s-2", "李")])
    assert store.list_staff() == [StaffRecord("s-1", "小王", 15), StaffRecord("s-2", "李")]
    assert store.list_staff(q="王") == [StaffRecord("s-1", "小王", 15)]
    with store.transaction() as conn:
        assert store.staff_limits(conn) == {"s-1": 15}
    store.delete_staff("s-1")
    with pytest.raises(NotFound):
        store.get_staff("s-1")
    store.put_tags([TagRecord("fans", "behaviour", "#0b7a75"), TagRecord("qr-1", "channel")])
    assert store.list_tags(category="channel") == [TagRecord("qr-1", "channel")]
    assert [t.name for t in store.list_tags(q="FA")] == ["fans"]
    store.delete_tag("fans")
    with pytest.raises(NotFound):
        store.delete_tag("fans")
