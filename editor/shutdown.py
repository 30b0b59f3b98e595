"""`qunflow serve` until SIGTERM or Ctrl-C, then stopped within `engine.shutdown.GRACE` seconds.

On the signal the in-process worker stops after its round and the server takes no new connection.
Requests under way get half the grace to finish; one still running then is answered 503 (never
uvicorn's bare 500): an event it carried may be stored or not, and sending it again is safe (event
ids are acted on once). Whatever still runs at the deadline is abandoned (:mod:`engine.shutdown`).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import uvicorn
from litestar import Litestar
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from qunflow.engine import shutdown

STOPPING = "the server is stopping; try again shortly (服务正在停止，请稍后再试)"


def serve_until_stopped(app: Litestar, host: str, port: int) -> None:
    worker = app.state.worker

    def stop() -> None:
        if worker is not None:
            worker.halt()

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            shutdown.begin()
            stop()
            super().handle_exit(sig, frame)

    # uvicorn puts these handlers back when it is done and calls them for the signal it took: the
    # process then returns from here, rather than being ended by the signal's default action.
    shutdown.on_signals(stop)
    config = uvicorn.Config(
        answer_when_cut_short(app),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=shutdown.GRACE / 2,
    )
    Server(config).run()


def answer_when_cut_short(app: ASGIApp) -> ASGIApp:
    """`app`, whose requests cancelled before they answered (the server stopping) answer 503."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await app(scope, receive, sending)
        except asyncio.CancelledError:
            if started:
                raise
            body = json.dumps({"error": "unavailable", "message": STOPPING}, ensure_ascii=False).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"5"),
                (b"connection", b"close"),
            ]
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": body})

    return guarded
