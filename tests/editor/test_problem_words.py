# ruff: noqa: E501  (one broken flow a line)
"""Every problem the flow checker reports is said in Chinese and in English (issue #15.4): a walk
over flows that break each of its rules, and over bad settings of every built-in node."""

from __future__ import annotations

import re
from typing import Any

import pytest

from qunflow.editor.problem_words import known, problem_words, say
from qunflow.engine.compiler import check
from qunflow.engine.registry import default_registry

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def flow(
    nodes: list[dict[str, Any]], edges: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    return {"id": "f", "nodes": nodes, "edges": edges or [], **extra}


JOINED = {"id": "joined", "type": "trigger.member_joined", "config": {}}
TAG = {"id": "tag", "type": "action.add_tag", "config": {"tags": ["a"]}}
BROKEN: dict[str, Any] = {
    "not JSON": "{nodes",
    "not an object": [],
    "node without id": {"id": "f", "nodes": [{"type": "action.add_tag"}]},
    "unknown field": flow([{**JOINED, "colour": "red"}]),
    "timezone": flow([JOINED], timezone="Mars/Base"),
    "reentry": flow([JOINED], settings={"reentry": "sometimes"}),
    "duplicate": flow([JOINED, JOINED]),
    "unknown type": flow([JOINED, {"id": "x", "type": "acme.nothing"}], [{"from": "joined", "to": "x"}]),
    "config missing": flow([JOINED, {"id": "tag", "type": "action.add_tag", "config": {}}],
                           [{"from": "joined", "to": "tag"}]),
    "config wrong type": flow([JOINED, {"id": "tag", "type": "action.add_tag", "config": {"tags": "a"}}],
                              [{"from": "joined", "to": "tag"}]),
    "config unknown": flow([JOINED, {**TAG, "config": {"tags": ["a"], "colour": 1}}], [{"from": "joined", "to": "tag"}]),
    "config too large": flow([JOINED, {"id": "p", "type": "action.add_points", "config": {"points": 10**13}}],
                             [{"from": "joined", "to": "p"}]),
    "enum": flow([JOINED, {"id": "s", "type": "action.set_stage", "config": {"stage": "boss"}}],
                 [{"from": "joined", "to": "s"}]),
    "duration": flow([JOINED, {"id": "w", "type": "wait.delay", "config": {"duration": "soon"}}],
                     [{"from": "joined", "to": "w"}]),
    "ten years": flow([JOINED, {"id": "w", "type": "wait.delay", "config": {"duration": "P5000D"}}],
                      [{"from": "joined", "to": "w"}]),
    "unclosed placeholder": flow([JOINED, {"id": "m", "type": "action.send_message",
                                          "config": {"text": "你有 {{ member.points } 积分"}}]),
    "placeholder": flow([JOINED, {"id": "m", "type": "action.send_message",
                                  "config": {"text": "{{ member.nope }} {{ x.y }} {{ member.attributes }} "
                                             "{{ member.name.first }} {{ a b }}"}}],
                        [{"from": "joined", "to": "m"}]),
    "no flow": flow([JOINED, {"id": "s", "type": "action.start_flow", "config": {"flow": "elsewhere"}}],
                    [{"from": "joined", "to": "s"}]),
    "no content": flow([JOINED, {"id": "m", "type": "action.send_message", "config": {"content": "nope"}}],
                       [{"from": "joined", "to": "m"}]),
    "edges": flow([JOINED, TAG], [{"from": "ghost", "to": "tag"}, {"from": "joined", "to": "ghost"},
                                  {"from": "joined", "to": "tag", "port": "maybe"}, {"from": "tag", "to": "joined"}]),
    "loop": flow([JOINED, TAG, {**TAG, "id": "tag2"}],
                 [{"from": "joined", "to": "tag"}, {"from": "tag", "to": "tag2"}, {"from": "tag2", "to": "tag"}]),
    "no trigger": flow([TAG]),
    "unreachable": flow([JOINED, TAG]),
    "silent trigger": flow([{"id": "t", "type": "trigger.event", "config": {"event": ""}}]),
    "welcome not after an add": flow([JOINED, {"id": "w", "type": "action.send_welcome", "config": {"text": "欢迎"}}],
                                     [{"from": "joined", "to": "w"}]),
    "goal window": flow([JOINED], settings={"goal": {"event": "purchase", "within": "PT0S"}}),
    "goal window too long": flow([JOINED], settings={"goal": {"event": "purchase", "within": "P5000D"}}),
    "goal where": flow([JOINED], settings={"goal": {"event": "purchase", "within": "P7D",
                                                    "where": [{"field": "data.amount", "op": "gte", "value": 1},
                                                              {"field": "member.nope", "op": "eq"}]}}),
    "goal event": flow([JOINED], settings={"goal": {"event": "", "within": "P7D"}}),
    "goal missing window": flow([JOINED], settings={"goal": {"event": "purchase"}}),
    "goal unknown field": flow([JOINED], settings={"goal": {"event": "purchase", "within": "P7D", "exits": True}}),
    "holdout": flow([JOINED], settings={"holdout": 60}),
    "holdout negative": flow([JOINED], settings={"holdout": -1}),
}  # fmt: skip


def _problems(document: Any) -> list[Any]:
    _, _, problems = check(document, default_registry(), flows=["f"], content={})
    return problems


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_problem_is_said_in_both_languages(case: str) -> None:
    problems = _problems(BROKEN[case])
    assert problems, f"{case}: the checker found nothing"
    for problem in problems:
        words = problem_words(problem)
        assert known(problem.message), f"{case}: no words for {problem.message!r}"
        assert (words["node"], words["path"], words["message"]) == (
            problem.node,
            problem.path,
            problem.message,
        )
        assert CHINESE.search(words["zh"]), (case, words)
        assert "Object" not in words["en"] and "Expected" not in words["en"], (case, words)
        assert "`" not in words["zh"] and "`" not in words["en"], (case, words)


def test_bad_settings_of_every_built_in_node_are_said_in_chinese() -> None:
    """Each node's config given a value of the wrong type in every field, and an unknown field."""
    seen = 0
    for node_type in default_registry():
        for field in node_type.config.__struct_fields__:
            for value in ({"x": 1}, [1], -1, "x" * 3000):
                document = flow([JOINED, {"id": "n", "type": node_type.type, "config": {field: value}}],
                                [{"from": "joined", "to": "n"}])  # fmt: skip
                for problem in _problems(document):
                    if problem.node == "n" and problem.path.startswith("config"):
                        seen += 1
                        assert known(problem.message), (node_type.type, field, problem.message)
    assert seen > 100


def test_a_message_the_table_does_not_know_is_shown_as_it_is() -> None:
    assert say("something new", "zh") == "设置有误：something new"
    assert say("something new", "en") == "something new"


def test_the_words_fill_in_names_and_types() -> None:
    assert say("Object missing required field `tags`", "zh") == "缺少必填项 tags"
    assert say("Expected `array`, got `str`", "zh") == "应为列表，填的是文字"
    assert say("Expected `array`, got `str`", "en") == "should be a list, not text"
    assert say("content `hi`: `member.nope`: unknown field; known: name", "zh").startswith(
        "话术 hi：member.nope 是未知字段"
    )
    assert say("must be `once`, `always` or an ISO 8601 duration like `P30D`", "zh").startswith(
        "重复进入规则"
    )


def test_an_unclosed_placeholder_is_a_problem_said_plainly() -> None:
    problems = [p for p in _problems(BROKEN["unclosed placeholder"]) if p.path == "config.text"]
    assert [p.node for p in problems] == ["m"]
    words = problem_words(problems[0])
    assert words["zh"] == "占位符 {{ member.points } 积分 没有用 }} 结尾"
    assert words["en"] == "the placeholder {{ member.points } 积分 is not closed with }}"
