"""`action.webhook` URLs: a placeholder's value is data in the part of the URL it lands in.

A flow runs through the simulator; its webhook delivery then goes through the real connector to a
loopback server that records the exact request line, so the test sees what a receiver would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from documents import event, flow, node

from qunflow.engine import check, default_registry
from qunflow.engine.connectors import Delivery, WebhookConnector
from qunflow.engine.event import convert_events
from qunflow.engine.simulate import simulate

HOSTILE = "../../admin/users/1?x="


class Receiver:
    """Records each request's raw target (path and query as sent on the wire)."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.targets.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.http.shutdown()
    running.http.server_close()


def _called(url: str, member: str, data: dict[str, Any], receiver: Receiver) -> str:
    """The request target the receiver saw for a webhook node with `url`, run for `member`."""
    document = flow(
        "f",
        [node("t", "trigger.event", event="ping"), node("hook", "action.webhook", url=url, method="GET")],
        [("t", "hook")],
    )
    events = convert_events([event("e1", "ping", "2026-11-22T10:00:00+08:00", member=member, data=data)])
    report = simulate([document], events, "P1D")
    [made] = [d for d in report["deliveries"] if d["node"] == "hook"]
    delivery = Delivery(key="k", kind="webhook", payload=made["payload"], flow="f", node="hook")
    WebhookConnector(b"secret", allow=["127.0.0.1/32"]).send(delivery)
    [target] = receiver.targets
    return target


def test_a_member_id_stays_one_path_segment(receiver: Receiver) -> None:
    target = _called(receiver.base + "/members/{{member.id}}/notes?src=qunflow", HOSTILE, {}, receiver)

    assert target == "/members/..%2F..%2Fadmin%2Fusers%2F1%3Fx%3D/notes?src=qunflow"
    parts = urlsplit(target)
    assert parts.path.split("/") == ["", "members", "..%2F..%2Fadmin%2Fusers%2F1%3Fx%3D", "notes"]
    assert parse_qsl(parts.query) == [("src", "qunflow")]


def test_a_bare_dot_dot_cannot_climb_the_path(receiver: Receiver) -> None:
    target = _called(receiver.base + "/members/{{ member.id }}/notes", "..", {}, receiver)

    assert target == "/members/%2E%2E/notes"


def test_a_query_value_cannot_add_parameters(receiver: Receiver) -> None:
    url = receiver.base + "/hook?member={{ member.id }}&ref={{ event.data.ref }}#{{ event.data.ref }}"
    target = _called(url, "m 1", {"ref": "a&admin=1#top"}, receiver)

    assert target == "/hook?member=m%201&ref=a%26admin%3D1%23top"
    assert parse_qsl(urlsplit(target).query) == [("member", "m 1"), ("ref", "a&admin=1#top")]


def test_the_operator_text_is_kept_as_written(receiver: Receiver) -> None:
    target = _called(receiver.base + "/a/b%20c?x=1&y=/z", "m-1", {}, receiver)

    assert target == "/a/b%20c?x=1&y=/z"


def test_non_ascii_in_the_operator_text_is_sent_percent_encoded(receiver: Receiver) -> None:
    target = _called(receiver.base + "/会员/{{ member.id }}?来源=群", "小林", {}, receiver)

    assert target == "/%E4%BC%9A%E5%91%98/%E5%B0%8F%E6%9E%97?%E6%9D%A5%E6%BA%90=%E7%BE%A4"


@pytest.mark.parametrize(
    "url",
    [
        "https://{{event.data.host}}/hook",
        "https://crm.example.com:{{event.data.port}}/hook",
        "https://user{{member.id}}@crm.example.com/hook",
        "https://{{ event.data.host }}/hook",
    ],
)
def test_placeholders_in_the_origin_are_refused_at_validation(url: str) -> None:
    document = flow(
        "f", [node("t", "trigger.event", event="x"), node("hook", "action.webhook", url=url)], [("t", "hook")]
    )
    _, _, problems = check(document, default_registry())

    [problem] = [p for p in problems if p.node == "hook"]
    assert problem.path == "config"
    assert "placeholders may stand in the path, query or fragment only" in problem.message
