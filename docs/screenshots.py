"""Regenerates the user guide's pictures (docs/guide/*.png) from a real server.

It starts `qunflow serve --demo` on a new SQLite database in a temporary folder — the demo a new user
sees — adds an operator account, names two channels, publishes a second version of 消费分层 (so the
version history has a change to show and to roll back) and sends it a few purchases (so the live view
has figures of each version), and saves a draft of 新人欢迎 → VIP with a new reminder text (so the
publish dialog has a change to show). Then it signs in with Debian's Chromium at 1400×900 and
photographs each page of docs/guide.md, doing on the way what the guide describes: turning on the live
view, selecting a node, running a preview, opening the publish dialog, test-sending a message. Each
shot waits for the thing it shows; a page that lost it fails the run, naming the shot, rather than
leaving a wrong picture in the guide.

    .venv/bin/python docs/screenshots.py                          # every shot, into docs/guide/
    .venv/bin/python docs/screenshots.py --only flows,member --out shots

Needs the test extras (`pip install -e '.[test]'`: Playwright) and Debian's `chromium`.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
GUIDE_PICTURES = HERE / "guide"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 900}
ADMIN = ("admin", "guide admin password")
OPERATOR = ("运营小周", "guide operator password")
FLOW = "spend-tiers"  # branches and live counts: the canvas and the history show it
# The reference journey: its preview and its forecast have messages, coupons and invitations to show.
REFERENCE = "welcome-vip"
CHANNELS = {"qr-live-1122": ("直播间活码", 300), "qr-store-07": ("门店海报", 120)}
# Purchases made after version 2 of 消费分层 goes live: member, amount (one of them 高价值 on version 2).
PURCHASES = (("demo-m-03", 1600), ("demo-m-05", 99), ("demo-m-08", 199), ("demo-m-12", 39))
# The reference journey's reminder, reworded in its draft: the publish dialog's change, the test send's text.
REMINDER = ("nudge", "{{ member.name }}，今晚 8 点群里直播抽奖，记得来哦")
# A member of the demo with a staff account of their own (a WeCom message goes from that staff member),
# found by name in the test send's search.
TEST_MEMBER = ("m-1", "小林")
STARTUP_SECONDS = 120


@dataclass(frozen=True)
class Shot:
    """One picture: `path` is opened (`{member}` stands for a member whose run waits), `act` does what
    the guide describes there, and the picture is taken once `shows` is visible."""

    name: str
    path: str
    shows: str
    act: Callable[[Any], None] | None = None
    admin: bool = False


def _node(page: Any, node_id: str) -> Any:
    return page.locator(f'.drawflow-node[data-node-id="{node_id}"]')


def _editor_ready(page: Any) -> None:
    page.locator('body[data-editor-ready="true"]').wait_for()


def _live_view_and_a_node(page: Any) -> None:
    """The live view of the live version: counts on the nodes and connections, the version picker, each
    node's split by version, the minimap; then a node selected."""
    _editor_ready(page)
    page.click("#qf-live")
    page.locator(".qf-count").first.wait_for()
    for shown in ("#qf-live-version", ".qf-edge-label", ".qf-count-split", "#qf-minimap-view"):
        page.locator(shown).first.wait_for(state="visible")
    _node(page, "repeat").locator(".qf-node-title").click()


def _run_preview(page: Any) -> None:
    _editor_ready(page)
    page.click("#qf-preview")
    page.locator("#qf-preview-form").wait_for()
    page.click("#qf-preview-run")
    page.locator("#qf-preview-result table").first.wait_for()


def _open_publish_dialog(page: Any) -> None:
    """The dialog once its three parts have answered: what changes, the reach, the backtest."""
    _editor_ready(page)
    page.click("#qf-publish")
    page.locator("#qf-forecast-publish").wait_for()
    for done in ("#qf-publish-changes", "#qf-publish-reach", "#qf-forecast-body"):
        page.locator(f'{done}[data-state="done"]').wait_for()
    page.locator("#qf-publish-change-list li").first.wait_for()


def _test_send(page: Any) -> None:
    """The reminder node's test send, to a member found by name; the answer in view. The node is
    brought into view through the minimap, as an operator would."""
    _editor_ready(page)
    page.locator(f'#qf-minimap-view rect[data-node-id="{REMINDER[0]}"]').click()
    _node(page, REMINDER[0]).locator(".qf-node-title").click()
    page.fill("#qf-test-member", TEST_MEMBER[1])
    page.locator(f'.qf-test-member-choice[data-member="{TEST_MEMBER[0]}"]').click()
    page.click("#qf-test-send-button")
    page.locator("#qf-test-send-result .qf-test-status").wait_for()
    page.locator("#qf-test-send-link").scroll_into_view_if_needed()


SHOTS: tuple[Shot, ...] = (
    Shot("flows", "/flows", f"#flow-{FLOW}"),
    Shot("canvas", f"/flows/{FLOW}", "#qf-panel-body .qf-field", _live_view_and_a_node),
    Shot("preview", f"/flows/{REFERENCE}", ".qf-count", _run_preview),
    Shot("publish", f"/flows/{REFERENCE}", "#qf-forecast", _open_publish_dialog),
    Shot("testsend", f"/flows/{REFERENCE}", "#qf-test-send-result .qf-test-status", _test_send),
    Shot("history", f"/flows/{FLOW}/history", ".qf-rollback"),
    Shot("runs", "/runs?status=waiting", "#qf-runs .qf-reason"),
    Shot("members", "/members", "#qf-members tbody tr"),
    Shot("member", "/members/{member}", ".qf-timeline li"),
    Shot("deliveries", "/deliveries", "#qf-deliveries tbody tr"),
    Shot("tasks", "/tasks", "#qf-tasks tbody tr"),
    Shot("reports", "/reports/channels", ".qf-table tbody tr"),
    Shot("settings", "/admin/settings", "#qf-budget-messages", admin=True),
    Shot("connectors", "/admin/connectors", "select", admin=True),
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def demo_server(folder: Path) -> Iterator[str]:
    """`qunflow serve --demo` on a new database in `folder`, with the admin password chosen here;
    yields its base URL and stops it (SIGTERM) on leaving."""
    port = free_port()
    log = (folder / "serve.log").open("w")
    command = [sys.executable, "-m", "qunflow.editor.cli", "serve", "--demo", "--port", str(port),
               "--db", f"sqlite:///{folder / 'qunflow.db'}"]  # fmt: skip
    env = {**os.environ, "QUNFLOW_ADMIN_PASSWORD": ADMIN[1]}
    server = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(server, base_url, folder / "serve.log")
        yield base_url
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _wait_until_up(server: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the demo server stopped:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/login", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.3)
    raise RuntimeError(f"the demo server did not answer within {STARTUP_SECONDS} s:\n{log.read_text()}")


def prepare(page: Any) -> dict[str, str]:
    """As the admin, through the API: an operator account, names and costs for two channels, version 2
    of 消费分层 (高价值 from 1500 元 instead of 2000) and a few purchases on it, and a draft of the
    reference journey with the reminder reworded. Returns what shot paths stand for: a member whose
    run waits."""
    csrf = {"X-CSRF-Token": _csrf(page)}
    user = {"name": OPERATOR[0], "password": OPERATOR[1], "role": "operator"}
    _ok(page.request.post("/api/users", data=user, headers=csrf))
    for channel, (name, cost) in CHANNELS.items():
        _ok(page.request.put(f"/api/channels/{channel}", data={"name": name, "cost": cost}, headers=csrf))
    draft = page.request.get(f"/api/flows/{FLOW}").json()["draft"]
    for node in draft["nodes"]:
        if node["id"] == "by_spend":
            node["config"]["cases"][0]["value"] = 1500
    _ok(page.request.post("/api/flows", data=draft, headers=csrf))
    _ok(page.request.post(f"/api/flows/{FLOW}/publish", headers=csrf))
    now = datetime.now(UTC).isoformat()
    purchases = [{"id": f"guide-buy-{member}", "type": "purchase", "member": member, "at": now,
                  "data": {"amount": amount, "product": "礼盒"}} for member, amount in PURCHASES]  # fmt: skip
    _ok(page.request.post("/api/events", data=purchases, headers=csrf))
    draft = page.request.get(f"/api/flows/{REFERENCE}").json()["draft"]
    for node in draft["nodes"]:
        if node["id"] == REMINDER[0]:
            node["config"]["text"] = REMINDER[1]
    _ok(page.request.post("/api/flows", data=draft, headers=csrf))
    waiting = page.request.get("/api/runs", params={"status": "waiting", "limit": 50}).json()["items"]
    members = [r["member"] for r in waiting if r.get("member")]
    return {"member": members[0] if members else "demo-m-01"}


def _ok(answer: Any) -> None:
    if not answer.ok:
        raise RuntimeError(f"{answer.url}: {answer.status} {answer.text()}")


def _csrf(page: Any) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "qunflow_csrf")


def _sign_in(browser: Any, base_url: str, user: tuple[str, str], errors: list[str]) -> Any:
    context = browser.new_context(viewport=VIEWPORT, base_url=base_url, locale="zh-CN")
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    page.goto("/login?next=/flows")
    page.fill("input[name=username]", user[0])
    page.fill("input[name=password]", user[1])
    page.press("input[name=password]", "Enter")
    page.wait_for_url("**/flows")
    return page


def take(base_url: str, out: Path, shots: Sequence[Shot]) -> list[Path]:
    """Photograph `shots` on the demo server at `base_url` into `out`; returns the files written.
    Raises naming the shot whose page lacks what it should show, or raised a script error."""
    from playwright.sync_api import Error, sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        admin = _sign_in(browser, base_url, ADMIN, errors)
        values = prepare(admin)
        operator = _sign_in(browser, base_url, OPERATOR, errors)
        for shot in shots:
            page = admin if shot.admin else operator
            try:
                page.goto(shot.path.format(**values))
                if shot.act is not None:
                    shot.act(page)
                page.locator(shot.shows).first.wait_for(state="visible")
            except Error as error:
                raise RuntimeError(f"shot `{shot.name}` ({shot.path}): {error.message}") from None
            page.wait_for_load_state("networkidle")
            target = out / f"{shot.name}.png"
            page.screenshot(path=str(target))
            written.append(target)
        browser.close()
    if errors:
        raise RuntimeError(f"script errors in the pages: {errors}")
    return written


def chosen(only: str | None) -> list[Shot]:
    if not only:
        return list(SHOTS)
    names = [n.strip() for n in only.split(",") if n.strip()]
    known = {shot.name: shot for shot in SHOTS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"--only: no shot named {', '.join(unknown)} (there are {', '.join(known)})")
    return [known[n] for n in names]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=GUIDE_PICTURES, help="folder for the PNGs (docs/guide)")
    parser.add_argument("--only", help="comma-separated shot names (default: all)")
    args = parser.parse_args(argv)
    shots = chosen(args.only)
    with tempfile.TemporaryDirectory(prefix="qunflow-guide-") as folder, demo_server(Path(folder)) as url:
        for path in take(url, args.out, shots):
            print(f"{path}  {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
