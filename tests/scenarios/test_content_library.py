"""The content library (话术库, DESIGN §15) under the simulated clock: message nodes send items by id,
the delivery carries the item with its text rendered, and an id the library lacks is refused when
the flow is checked, naming the node and `config.content`."""

from __future__ import annotations

import msgspec
import pytest
from documents import event, flow, node
from kit import run, sent

from qunflow.engine import ContentItem, check, default_registry
from qunflow.engine.errors import UserError

T = "2026-11-22T10:00:00+08:00"
POSTER = {
    "id": "poster-double11",
    "title": "双11 海报",
    "kind": "image",
    "text": "{{ member.name }}，海报请查收",
    "media": {"url": "https://cdn.example.com/p.png", "name": "p.png"},
}
CARD = {
    "id": "shop-card",
    "title": "小程序商城",
    "kind": "miniprogram",
    "miniprogram": {"appid": "wx1234", "page": "pages/index?from=qunflow", "title": "进店逛逛"},
}


def sending(**config: object) -> dict:
    return flow(
        "f",
        [node("t", "trigger.event", event="go"), node("send", "action.send_message", **config)],
        [("t", "send")],
    )


def test_a_delivery_carries_the_item_and_its_rendered_text() -> None:
    report = run(
        sending(content="poster-double11"),
        [event("e-1", "go", T)],
        members=[{"id": "m-1", "name": "小林"}],
        content=[POSTER, CARD],
    )
    assert [d["payload"] for d in sent(report, "send")] == [
        {"text": "小林，海报请查收", "to": "member", "content": {**POSTER}},
    ]


def test_an_item_without_text_sends_an_empty_text_and_the_card() -> None:
    report = run(
        sending(content="shop-card", to="group", group="g-1"), [event("e-1", "go", T)], content=[CARD]
    )
    payload = sent(report, "send")[0]["payload"]
    assert payload == {"text": "", "to": "group", "group": "g-1", "content": {**CARD}}


def test_a_broadcast_sends_the_item_to_each_member_and_each_group() -> None:
    audience = {"tags_any": ["vip"], "groups": ["g-1", "g-2"]}
    members = [
        {"id": m, "name": n, "tags": ["vip"], "groups": ["g-1"]} for m, n in (("a", "阿"), ("b", "波"))
    ]
    for to, expected in (
        ("member", [("a", "阿，海报请查收"), ("b", "波，海报请查收")]),
        ("group", [(None, "，海报请查收"), (None, "，海报请查收")]),
    ):
        document = flow(
            "f",
            [
                node("t", "trigger.schedule", cron="0 9 * * *"),
                node("b", "action.broadcast", content="poster-double11", audience=audience, to=to),
            ],
            [("t", "b")],
        )
        start = [event("e-0", "noop", T, member="a")]  # the clock starts here
        report = run(document, start, until="2026-11-23T10:00:00+08:00", members=members, content=[POSTER])
        deliveries = sent(report, "b")
        assert [(d["member"], d["payload"]["text"]) for d in deliveries] == expected
        assert all(d["payload"]["content"]["media"]["url"] == POSTER["media"]["url"] for d in deliveries)


def test_an_unknown_item_is_refused_naming_the_node_and_config_content() -> None:
    registry = default_registry()
    library = {"poster-double11": msgspec.convert(POSTER, ContentItem)}
    _, _, problems = check(sending(content="does-not-exist-123"), registry, content=library)
    assert [(p.node, p.path) for p in problems] == [("send", "config.content")]
    assert "does-not-exist-123" in problems[0].message
    assert check(sending(content="poster-double11"), registry, content=library)[2] == []
    # Without a library to check against (a draft being saved), the id is not judged yet.
    assert check(sending(content="does-not-exist-123"), registry)[2] == []
    with pytest.raises(UserError, match="send: config.content: there is no content item"):
        run(sending(content="does-not-exist-123"), [event("e-1", "go", T)])


@pytest.mark.parametrize(
    ("item", "said"),
    [
        ({"id": "x", "title": "t", "text": "{{ member.nickname }}"}, "member.nickname"),
        ({"id": "x", "title": "t", "kind": "image"}, "needs `media`"),
        ({"id": "x", "title": "t", "kind": "link", "link": {"url": "ftp://a", "title": "t"}}, "link.url"),
        ({"id": "x", "title": "t", "kind": "poster", "text": "a"}, "kind"),
        ({"id": "x", "text": "a"}, "title"),
    ],
)
def test_a_bad_item_is_refused_naming_the_field(item: dict, said: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=said.replace("`", ".")):
        msgspec.convert(item, ContentItem)
