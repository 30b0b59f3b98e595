"""For connector tests: a tiny connector package made on disk (found through its entry point, like an
installed distribution), an HTTP receiver on loopback, and a flow that makes a coupon and a message."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TINY_MODULE = '''
from typing import ClassVar

import msgspec

from qunflow.engine.connectors import Secret


class TinyOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    path: str
    token: Secret


class TinyConnector:
    """Appends each delivery it takes, with the (decrypted) token, to the file at `path`."""

    name: ClassVar[str] = "tiny"
    title: ClassVar[dict] = {"zh": "小连接器", "en": "Tiny"}
    kinds: ClassVar[frozenset] = frozenset({"coupon", "message"})
    Options: ClassVar[type] = TinyOptions

    def __init__(self, options):
        self.options = options

    @classmethod
    def open(cls, options, context):
        return cls(options)

    def send(self, delivery):
        with open(self.options.path, "a", encoding="utf-8") as file:
            file.write(f"{delivery.key} {delivery.kind} {delivery.member} {self.options.token}\\n")
'''


def make_tiny_distribution(folder: Path) -> Path:
    """A module plus `tinyconn-0.1.dist-info/` in `folder`, which goes on sys.path or PYTHONPATH."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tinyconn.py").write_text(TINY_MODULE, encoding="utf-8")
    info = folder / "tinyconn-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinyconn\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[qunflow.connectors]\ntiny = tinyconn:TinyConnector\n")
    return folder


def coupon_and_message_flow(flow_id: str = "signup") -> dict[str, Any]:
    """signup → coupon → message: one delivery of each kind per member, at once."""
    return {
        "id": flow_id,
        "name": "注册礼",
        "nodes": [
            {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
            {"id": "coupon", "type": "action.send_coupon", "config": {"coupon": "welcome-10"}},
            {"id": "hello", "type": "action.send_message", "config": {"text": "你好"}},
        ],
        "edges": [{"from": "start", "to": "coupon"}, {"from": "coupon", "to": "hello"}],
    }


def signup(event_id: str, member: str) -> dict[str, Any]:
    return {"id": event_id, "type": "signup", "member": member, "at": "2026-11-22T10:00:00+08:00"}


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that keeps every request it gets and answers each with `status`
    (200 unless a test sets another, say 400 to make a connector's call fail for good)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(
                    {"headers": dict(self.headers), "raw": body, "body": json.loads(body or b"null")}
                )
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/effects"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
