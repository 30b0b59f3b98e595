"""Operator patterns run on RE2 (#13.3): linear time on any message, and what RE2 cannot run is a
validation problem naming the node and the keyword, in words an operator can act on."""

from __future__ import annotations

from typing import Any

import pytest
import re2
from documents import flow, node

from qunflow.engine import Registry, check
from qunflow.engine.event import convert_events
from qunflow.engine.simulate import simulate
from qunflow.nodes.patterns import compile_pattern

T = "2026-11-22T10:00:00+08:00"


def regex_flow(*keywords: str) -> dict[str, Any]:
    return flow(
        "f",
        [
            node("t", "trigger.message", keywords=list(keywords), match="regex"),
            node("tag", "action.add_tag", tags=["hit"]),
        ],
        [("t", "tag")],
        settings={"reentry": "always"},
    )


def test_the_pattern_engine_is_re2() -> None:
    assert isinstance(compile_pattern("(a+)+$"), re2._Regexp)


def test_a_catastrophic_pattern_against_long_messages_answers_both_ways() -> None:
    # Longer than any cut a backtracking engine would need: `$` is the end of the whole message.
    texts = {"m-miss": "a" * 20_000 + "!", "m-hit": "b" + "a" * 20_000}
    events = [
        {"id": member, "type": "message", "at": T, "member": member, "data": {"text": text}}
        for member, text in texts.items()
    ]
    report = simulate([regex_flow("(a+)+$")], convert_events(events), "P1D")
    assert report["members"]["m-hit"]["tags"] == ["hit"]
    assert report["members"]["m-miss"]["tags"] == []


@pytest.mark.parametrize(
    ("pattern", "why"),
    [(r"(a)\1", "反向引用"), ("(?=a)b", "前后断言"), ("(?<!a)b", "前后断言"), ("([", "missing")],
)
def test_what_re2_cannot_run_is_refused_by_validation(registry: Registry, pattern: str, why: str) -> None:
    _, _, problems = check(regex_flow("ok", pattern), registry)
    assert len(problems) == 1
    problem = problems[0]
    assert problem.node == "t"
    assert problem.path == "config"
    assert problem.message.startswith("keywords[1]: 正则表达式")
    assert pattern in problem.message and why in problem.message


def test_the_same_text_is_a_fine_plain_keyword(registry: Registry) -> None:
    document = regex_flow(r"(a)\1")
    document["nodes"][0]["config"]["match"] = "any"
    assert check(document, registry)[2] == []
