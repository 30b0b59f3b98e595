"""What the pages show of runs that wait for the outside world: the ports of a message or an
invitation follow its `wait`, and a settled delivery reads as words in the member's timeline."""

from __future__ import annotations

from qunflow.editor.services import Services
from qunflow.engine.event import convert_events
from qunflow.engine.outbox import Dispatcher

FLOW = {
    "id": "hello",
    "name": "问候",
    "nodes": [
        {"id": "t", "type": "trigger.event", "config": {"event": "go"}},
        {"id": "hi", "type": "action.send_message", "label": "问候消息",
         "config": {"text": "你好", "wait": True}},
        {"id": "ok", "type": "action.add_tag", "label": "已送达", "config": {"tags": ["ok"]}},
    ],
    "edges": [{"from": "t", "to": "hi"}, {"from": "hi", "port": "sent", "to": "ok"}],
}  # fmt: skip


def test_the_editor_draws_the_ports_the_config_gives(client, sign_in) -> None:
    csrf = sign_in("operator")

    def ports(node_type: str, config: dict) -> list[str]:
        answer = client.post("/editor/ports", json={"type": node_type, "config": config},
                             headers={"X-CSRF-Token": csrf})  # fmt: skip
        assert answer.status_code == 200, answer.text
        return answer.json()["ports"]

    assert ports("action.send_message", {"text": "hi"}) == ["next"]
    assert ports("action.send_message", {"text": "hi", "wait": True}) == ["sent", "failed"]
    assert ports("action.send_message", {}) == ["next"]  # no text yet: still drawn with its port
    assert ports("action.invite_to_group", {"groups": ["vip"]}) == ["next", "full", "blocked"]
    assert ports("action.invite_to_group", {"groups": ["vip"], "wait": True, "within": "P1D"}) == [
        "joined", "not_joined", "full", "blocked"
    ]  # fmt: skip


def test_a_settled_delivery_reads_as_words_in_the_timeline(client, sign_in, services: Services) -> None:
    services.engine.deploy(FLOW)
    at = services.clock.now().isoformat()
    services.engine.ingest(convert_events([{"id": "g", "type": "go", "member": "m-1", "at": at,
                                            "profile": {"name": "小林"}}]))  # fmt: skip
    Dispatcher(services.store, clock=services.clock).drain()  # the recording connector keeps it
    assert services.engine.resume_settled() == 1
    sign_in("viewer")
    page = client.get("/members/m-1").text
    assert "投递结果" in page and "问候消息" in page and "已记录" in page
    assert "已送达" in page  # the run went on through `sent`
    assert '"delivery"' not in page and "run: " not in page
