"""`action.send_welcome` is valid only directly after `trigger.contact_added` (DESIGN §20): the
checker names the node and the edge otherwise, and says so in both languages."""

from __future__ import annotations

from documents import flow, node

from qunflow.editor.problem_words import problem_words
from qunflow.engine.compiler import check
from qunflow.engine.registry import default_registry

WELCOME = node("w", "action.send_welcome", text="欢迎 {{ member.name }}")


def problems(document: dict) -> list:
    return check(document, default_registry(), flows=[], content={})[2]


def test_directly_after_contact_added_is_valid() -> None:
    assert problems(flow("f", [node("t", "trigger.contact_added"), WELCOME], [("t", "w")])) == []


def test_after_another_trigger_or_a_wait_is_a_problem_on_the_welcome_node() -> None:
    for before in (node("t", "trigger.member_joined"), node("t", "trigger.contact_deleted")):
        (problem,) = problems(flow("f", [before, WELCOME], [("t", "w")]))
        assert (problem.node, problem.path) == ("w", "edges[0].from")
        words = problem_words(problem)
        assert "trigger.contact_added" in words["zh"] and "之后" in words["zh"]
        assert words["en"] == "this node can only come directly after trigger.contact_added"
    delayed = flow(
        "f",
        [node("t", "trigger.contact_added"), node("d", "wait.delay", duration="PT1M"), WELCOME],
        [("t", "d"), ("d", "w")],
    )
    assert [(p.node, p.path) for p in problems(delayed)] == [("w", "edges[1].from")]


def test_a_second_way_in_from_elsewhere_is_a_problem_too() -> None:
    document = flow(
        "f",
        [node("t", "trigger.contact_added"), node("j", "trigger.member_joined"), WELCOME],
        [("t", "w"), ("j", "w")],
    )
    assert [(p.node, p.path) for p in problems(document)] == [("w", "edges[1].from")]
