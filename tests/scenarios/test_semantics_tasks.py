"""Staff tasks (成员任务) and webhooks as deliveries (DESIGN §5)."""

from __future__ import annotations

from typing import Any

from documents import event, flow, node
from kit import run, runs, sent, tags

from qunflow.engine import check, default_registry

T = "2026-11-22T10:00:00+08:00"


def calling(wait: bool = True, due: str | None = "P2D") -> dict[str, Any]:
    task = {"title": "给 {{ member.name }} 打回访电话", "staff": "s-7", "wait": wait}
    if due is not None:
        task["due"] = due
    nodes = [node("t", "trigger.event", event="silent"), node("call", "action.assign_task", **task)]
    edges: list[Any] = [("t", "call")]
    ports = ("done", "skipped") + (("overdue",) if due else ()) if wait else ("next",)
    for port in ports:
        nodes.append(node(f"after_{port}", "action.add_tag", tags=[port]))
        edges.append(("call", port, f"after_{port}"))
    return flow("f", nodes, edges)


def silent(member: str) -> dict[str, Any]:
    return event(f"s-{member}", "silent", T, member=member, profile={"name": member.upper()})


def completed(id: str, member: str, at: str, outcome: str = "done", node_id: str = "call") -> dict[str, Any]:
    return event(
        id, "task_completed", at, member=member, data={"flow": "f", "node": node_id, "outcome": outcome}
    )


def test_a_waiting_task_branches_on_done_skipped_and_overdue_at_due() -> None:
    report = run(
        calling(),
        [
            silent("a"),
            silent("b"),
            silent("c"),
            # Another node's task does not close this one.
            completed("x", "a", "2026-11-22T11:00:00+08:00", node_id="other"),
            completed("y", "a", "2026-11-23T09:00:00+08:00"),
            completed("z", "b", "2026-11-22T15:00:00+08:00", outcome="skipped"),
        ],
    )
    [task] = sent(report, "call", "a")
    assert task["kind"] == "task"
    assert task["payload"] == {"title": "给 A 打回访电话", "staff": "s-7", "due": "2026-11-24T10:00:00+08:00"}
    assert tags(report, "a") == ["done"]
    assert tags(report, "b") == ["skipped"]
    assert tags(report, "c") == ["overdue"]
    assert [d["at"] for d in sent(report, "after_overdue")] == []  # add_tag makes no delivery
    assert len(sent(report, "call")) == 3
    assert runs(report) == {"done": 3}


def test_overdue_is_taken_exactly_at_due() -> None:
    report = run(calling(), [silent("c")], until="2026-11-24T09:59:59+08:00")
    assert runs(report) == {"waiting": 1}
    report = run(calling(), [silent("c")], until="2026-11-24T10:00:00+08:00")
    assert tags(report, "c") == ["overdue"]


def test_a_task_without_wait_goes_on_at_once_and_without_due_waits_for_ever() -> None:
    report = run(calling(wait=False), [silent("a")])
    assert tags(report, "a") == ["next"]
    assert sent(report, "call")[0]["payload"] == {
        "title": "给 A 打回访电话",
        "staff": "s-7",
        "due": "2026-11-24T10:00:00+08:00",
    }
    report = run(calling(due=None), [silent("a")], until="P90D")
    assert runs(report) == {"waiting": 1}


def test_webhook_is_recorded_as_a_delivery_with_rendered_body() -> None:
    document = flow(
        "f",
        [
            node("t", "trigger.purchase"),
            node(
                "crm",
                "action.webhook",
                url="https://crm.example.com/hooks/order",
                method="POST",
                body={"member": "{{ member.id }}", "amount": "{{ event.data.amount }}", "source": "qunflow"},
            ),
        ],
        [("t", "crm")],
    )
    report = run(document, [event("p", "purchase", T, member="m-9", data={"amount": 59})])
    [call] = sent(report, "crm")
    assert call["kind"] == "webhook"
    assert call["payload"] == {
        "url": "https://crm.example.com/hooks/order",
        "method": "POST",
        "body": {"member": "m-9", "amount": "59", "source": "qunflow"},
    }


def test_bad_configs_are_reported_on_their_node_with_the_field() -> None:
    document = flow(
        "f",
        [
            node("t", "trigger.event", event="x"),
            node("hook", "action.webhook", url="ftp://crm.example.com/x"),
            node("call", "action.assign_task", title="回访", due="-P1D"),
            node("friend", "action.add_friend", staff=[]),
            node("post", "action.broadcast", text="hi", to="group", audience={}),
        ],
        [("t", "hook"), ("hook", "call"), ("call", "friend"), ("friend", "post")],
    )
    _, _, problems = check(document, default_registry())
    found = {p.node: (p.path, p.message) for p in problems}
    assert found["hook"] == (
        "config",
        "`url` must be an http:// or https:// address, not `ftp://crm.example.com/x`",
    )
    assert found["call"] == ("config", "`due` must be a positive duration")
    assert found["friend"][0] == "config.staff"
    assert found["post"] == ("config", "`audience.groups` names the groups to post in when `to` is `group`")
