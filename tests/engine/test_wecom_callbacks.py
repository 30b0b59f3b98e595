"""WeCom callbacks → events: every row of DESIGN §20's table, both `MemChangeList` shapes, ids derived
from the content (a retried callback makes the same events), and malformed callbacks refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import wecom_xml as x

from qunflow.engine.connectors.wecom.callbacks import (
    callback_events,
    changed_members,
    parse_callback,
    profile_from_external_contact,
)
from qunflow.engine.connectors.wecom.crypto import MalformedCallback
from qunflow.engine.event import Profile

AT = datetime.fromtimestamp(x.CREATED, UTC)


def test_add_external_contact_is_contact_added() -> None:
    found = callback_events(x.added())
    (event,) = found.events
    assert (event.type, event.member, event.channel, event.at) == (
        "contact_added",
        "wmCustomer01",
        "qr-live",
        AT,
    )
    assert event.data == {"staff": "zhangsan", "welcome_code": "WELCOMECODE-1"}
    assert event.id.startswith("wecom-")


def test_add_half_external_contact_is_a_half_add() -> None:
    xml = x.contact("add_half_external_contact", State="qr-2", WelcomeCode="W2")
    (event,) = callback_events(xml).events
    assert event.type == "contact_added" and event.data == {
        "staff": "zhangsan",
        "welcome_code": "W2",
        "half": True,
    }


def test_an_add_without_state_or_welcome_code() -> None:
    (event,) = callback_events(x.contact("add_external_contact")).events
    assert event.channel is None and event.data == {"staff": "zhangsan"}


def test_edit_external_contact_is_member_updated_with_the_fetched_profile() -> None:
    asked = []

    def fetch(external: str) -> Profile:
        asked.append(external)
        return Profile(name="小林", attributes={"gender": 2})

    (event,) = callback_events(x.contact("edit_external_contact"), fetch).events
    assert asked == ["wmCustomer01"]
    assert event.type == "member_updated" and event.member == "wmCustomer01"
    assert event.profile == Profile(name="小林", attributes={"gender": 2})
    # without an outbound client the event carries what the callback has
    (bare,) = callback_events(x.contact("edit_external_contact")).events
    assert bare.profile is None and bare.data == {"staff": "zhangsan"} and bare.id == event.id
    (unknown,) = callback_events(x.contact("edit_external_contact"), lambda _: None).events
    assert unknown.profile is None


def test_del_external_contact_is_deleted_by_staff() -> None:
    (event,) = callback_events(x.contact("del_external_contact", Source="DELETE_BY_TRANSFER")).events
    assert event.type == "contact_deleted" and event.member == "wmCustomer01"
    assert event.data == {"by": "staff", "staff": "zhangsan", "source": "DELETE_BY_TRANSFER"}


def test_del_follow_user_is_deleted_by_the_customer() -> None:
    (event,) = callback_events(x.contact("del_follow_user")).events
    assert event.type == "contact_deleted" and event.data == {"by": "customer", "staff": "zhangsan"}


@pytest.mark.parametrize("shape", [x.members_items, x.members_csv], ids=["items", "comma-text"])
def test_add_member_is_one_member_joined_per_external_member(shape) -> None:
    xml = x.update("add_member", shape(["wmA", "zhangsan", "woB"]), scene=3)
    found = callback_events(xml)
    assert [(e.type, e.member, e.group, e.data) for e in found.events] == [
        ("member_joined", "wmA", "wrChat01", {"join_scene": 3}),
        ("member_joined", "woB", "wrChat01", {"join_scene": 3}),
    ]
    assert len({e.id for e in found.events}) == 2 and all(e.at == AT for e in found.events)


@pytest.mark.parametrize("shape", [x.members_items, x.members_csv], ids=["items", "comma-text"])
def test_del_member_is_one_member_left_per_external_member(shape) -> None:
    found = callback_events(x.update("del_member", shape(["lisi", "wmA"]), scene=0))
    assert [(e.type, e.member, e.group, e.data) for e in found.events] == [
        ("member_left", "wmA", "wrChat01", {"quit_scene": 0})
    ]


def test_both_shapes_and_an_item_with_a_child_read_the_same_members() -> None:
    ids = ["wmA", "woB"]
    assert changed_members(parse_callback(x.update("add_member", x.members_items(ids)))) == ids
    assert changed_members(parse_callback(x.update("add_member", x.members_csv(ids)))) == ids
    nested = (
        "<MemChangeList><Item><UserID>wmA</UserID></Item><Item><UserID>woB</UserID></Item></MemChangeList>"
    )
    assert changed_members(parse_callback(x.update("add_member", nested))) == ids
    assert changed_members(parse_callback(x.update("add_member", "<MemChangeList></MemChangeList>"))) == []


def test_the_same_member_change_in_either_shape_is_the_same_event_per_shape_retry() -> None:
    first = callback_events(x.update("add_member", x.members_items(["wmA"])))
    again = callback_events(x.update("add_member", x.members_items(["wmA"])))
    assert [e.id for e in first.events] == [e.id for e in again.events]


def test_group_create_registers_the_group_and_asks_for_a_sync() -> None:
    found = callback_events(x.chat("create"))
    (event,) = found.events
    assert (event.type, event.group, event.member) == ("group_created", "wrChat01", None)
    assert found.groups_to_sync == ["wrChat01"] and found.dismissed == []


def test_group_dismiss_marks_it_dismissed() -> None:
    found = callback_events(x.chat("dismiss"))
    assert [e.type for e in found.events] == ["group_dismissed"]
    assert found.dismissed == [("wrChat01", AT)]


def test_other_group_updates_ask_for_a_sync_only() -> None:
    found = callback_events(x.chat("update", body="<UpdateDetail><![CDATA[change_name]]></UpdateDetail>"))
    assert found.events == [] and found.groups_to_sync == ["wrChat01"]


def test_change_external_tag_asks_for_a_tag_sync() -> None:
    found = callback_events(x.tag_change())
    assert found.events == [] and found.tags_changed


def test_an_unknown_callback_makes_nothing() -> None:
    assert callback_events(x.contact("transfer_fail")).events == []
    text = "<xml><MsgType><![CDATA[text]]></MsgType><Content>hi</Content><CreateTime>1</CreateTime></xml>"
    assert callback_events(text).events == []


def test_ids_follow_the_content_not_the_whitespace() -> None:
    one = callback_events(x.added()).events[0].id
    spaced = callback_events(x.added().replace("><", ">\n  <")).events[0].id
    other = callback_events(x.added(at=x.CREATED + 1)).events[0].id
    assert one == spaced != other


@pytest.mark.parametrize(
    "xml",
    [
        "not xml",
        '<!DOCTYPE x [<!ENTITY e "boom">]><xml><Event>&e;</Event></xml>',
        x.added().replace(f"<CreateTime>{x.CREATED}</CreateTime>", "<CreateTime>soon</CreateTime>"),
        x.added().replace("<ExternalUserID><![CDATA[wmCustomer01]]></ExternalUserID>", ""),
        x.chat("create").replace("<ChatId><![CDATA[wrChat01]]></ChatId>", ""),
        x.added(external="wm" + "x" * 300),
    ],
)
def test_malformed_callbacks_are_refused(xml: str) -> None:
    with pytest.raises(MalformedCallback):
        callback_events(xml)


def test_profile_from_external_contact() -> None:
    body = {"errcode": 0, "external_contact": {"name": "李四", "type": 1, "gender": 1, "corp_name": ""}}
    assert profile_from_external_contact(body) == Profile(
        name="李四", attributes={"gender": 1, "wecom_type": 1}
    )
    assert profile_from_external_contact({"errcode": 84061}) is None


def test_a_callback_without_a_staff_id_carries_none() -> None:
    xml = x.added().replace("<UserID><![CDATA[zhangsan]]></UserID>", "")
    (event,) = callback_events(xml).events
    assert event.data == {"welcome_code": "WELCOMECODE-1"}
