"""For browser tests: a real qunflow server on loopback (random port, temporary SQLite), Debian's Chromium."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from qunflow.editor.app import create_app
from qunflow.editor.services import Services
from qunflow.engine import Clock, Registry

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
OPERATOR = ("operator", "operator password 1")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (install Debian's `chromium` and `fonts-noto-cjk`)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the `playwright` package is not installed (pip install -e '.[test]')"
    return None


@contextmanager
def running_server(
    database: Path, registry: Registry | None = None, clock: Clock | None = None, *, worker: bool = False
) -> Iterator[str]:
    """Serve a fresh app on 127.0.0.1 with an `operator` user (on `clock`, default the real one; with
    `worker`, its in-process worker steps runs and dispatches deliveries as `qunflow serve` does);
    yields the base URL."""
    services = Services.open(f"sqlite:///{database}", registry, clock)
    services.store.migrate()
    services.accounts.create_user(*OPERATOR, "operator", services.now_us())
    app = create_app(services, worker=worker)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.02)  # waiting for the socket to be bound, not measuring anything
    if not server.started:
        raise RuntimeError("the test server did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        services.close()


def save_screenshot(page: object, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))  # type: ignore[attr-defined]
    return path


def publish_to_docs(screenshot: Path, name: str = "editor.png") -> None:
    """One of the README's pictures (`docs/<name>`), refreshed only when asked (QUNFLOW_UPDATE_DOCS=1),
    so a test run never changes a tracked file."""
    if os.environ.get("QUNFLOW_UPDATE_DOCS") != "1":
        return
    target = REPO / "docs" / name
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(screenshot, target)
