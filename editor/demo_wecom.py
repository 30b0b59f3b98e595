"""`qunflow serve --demo`'s WeCom: a local fake WeCom on loopback, in the serving process, so a new user
sees the whole WeCom loop without a corp.

The `wecom` connector is configured against the fake (its address, demo secrets) and routed the kinds
WeCom makes; a flow 企业微信新客欢迎 (a customer adds staff → welcome → a message from their staff) is
deployed. Then, every :data:`ADD_EVERY` seconds (at most :data:`MAX_ADDS` times a run), the fake plays
a customer adding a staff account: an encrypted add callback to this server's `/wecom/callback`. The
welcome goes out at once (`sent`); the message becomes a mass-send task `awaiting_confirmation`, which
the fake's simulated staff member confirms :data:`CONFIRM_AFTER` seconds later; the next poll makes it
`sent`. Every page says the WeCom is simulated (the banner of `frame.html`).

The fake lives as long as the process: at each start it is new, on a new port, and the connector's
`api_base` is set to it again. Tasks made before a restart are unknown to the new fake, so they end
`failed` after `confirm_within` — the honest outcome for tasks nobody confirms.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from typing import Any

from qunflow.engine.connectors.recording import RecordingConnector
from qunflow.engine.connectors.wecom.fake import FakeWecom
from qunflow.engine.errors import NotFound
from qunflow.engine.outbox import Dispatcher

from .services import Services

log = logging.getLogger("qunflow.demo")

CONNECTOR = "wecom"
DEMO_TOKEN = "qunflow-demo-callback-token"
DEMO_AES_KEY = "qunflowDemoEncodingAESKey0123456789abcdefgh"  # 43 characters, as WeCom's
FIRST_ADD_AFTER = 3.0  # seconds after start: soon enough for a new user to see it
ADD_EVERY = 30.0
MAX_ADDS = 20  # a demo left running does not grow without end
CONFIRM_AFTER = 30.0  # seconds until the simulated staff member taps 发送
TICK = 1.0
# The demo corp chose WeCom's "7 a week" rule, so the demo's flows' few messages to a new customer
# all go out; the connector's ledger and the fake count the same rule.
MASS_SENDS_A_WEEK = 7
WECOM_KINDS = ("welcome", "message", "invite", "task", "friend_request", "remove")
STAFF = {"staff-wang": "王店长", "staff-li": "李客服"}
CUSTOMERS = "周小雨 陈默 林一 宋佳 许诺 韩梅梅 李雷 夏天 顾北 江南".split()
FLOW_ID = "wecom-welcome"
WELCOME_TEXT = "你好，欢迎添加！新人券已放进你的账户"
FOLLOW_TEXT = "本周会员日：全场 8 折，回复 1 了解详情"
FLOW: dict[str, Any] = {
    "id": FLOW_ID,
    "name": "企业微信新客欢迎（演示）",
    "settings": {"reentry": "always"},
    "nodes": [
        {"id": "added", "type": "trigger.contact_added", "config": {}},
        {"id": "welcome", "type": "action.send_welcome", "config": {"text": WELCOME_TEXT}},
        {"id": "follow", "type": "action.send_message", "config": {"text": FOLLOW_TEXT}},
    ],
    "edges": [{"from": "added", "to": "welcome"}, {"from": "welcome", "to": "follow"}],
}


class DemoWecom:
    """The fake WeCom and the simulated customers and staff taps of one `serve --demo` run."""

    def __init__(self, services: Services, callback_url: str, *, max_adds: int = MAX_ADDS) -> None:
        self.services = services
        self.callback_url = callback_url
        self.max_adds = max_adds
        self.fake = FakeWecom(
            "wwdemo0000000001", "demo-app-secret", quota=MASS_SENDS_A_WEEK, quota_per="week"
        )
        self.adds = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, fresh: bool = False) -> DemoWecom:
        """Start the fake, point the `wecom` connector at it and route WeCom's kinds to it. `fresh`:
        the demo was just loaded, and its history's deliveries are recorded first (they were played
        under a simulated clock, not sent)."""
        self.fake.start()
        for staff, name in STAFF.items():
            self.fake.add_staff(staff, name)
        services = self.services
        # The demo's groups exist in the fake corp too, so invitations get their join links.
        for group in services.store.list_groups(limit=1000):
            self.fake.add_group(group["id"], group.get("owner") or "staff-wang", group.get("name"))
        if fresh:
            Dispatcher(services.store, RecordingConnector(), clock=services.clock).drain()
        options = {
            "corp_id": self.fake.corp_id,
            "secret": self.fake.secret,
            "agent_id": self.fake.agent_id,
            "token": DEMO_TOKEN,
            "encoding_aes_key": DEMO_AES_KEY,
            "api_base": self.fake.url,
            "public_url": self.callback_url.rsplit("/wecom/", 1)[0],
            "mass_send_limit": {"count": MASS_SENDS_A_WEEK, "per": "week"},
        }
        services.connectors.configure(CONNECTOR, options, services.connector_context(), services.now_us())
        routes = {**services.connectors.routes(), **dict.fromkeys(WECOM_KINDS, CONNECTOR)}
        services.connectors.set_routes(routes)
        try:
            services.store.get_flow(FLOW_ID)
        except NotFound:
            services.engine.deploy(FLOW)
            services.engine.flows.reload()
        # Each call the connector makes would be an INFO line; the demo's console stays readable.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        self._thread = threading.Thread(target=self._run, name="qunflow-demo-wecom", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the simulated customers and the fake (within a second or so)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
        self.fake.stop()

    def _run(self) -> None:
        next_add = time.monotonic() + FIRST_ADD_AFTER
        while not self._stop.wait(TICK):
            try:
                if self.adds < self.max_adds and time.monotonic() >= next_add:
                    next_add = time.monotonic() + ADD_EVERY
                    self.add_customer()
                self.confirm_due()
            except Exception as error:  # the demo's play must not end the server
                log.warning("demo WeCom: %s", error)

    def add_customer(self) -> str:
        """A customer adds a staff account: the fake posts the encrypted add callback here."""
        number = self.adds
        self.adds += 1
        staff = list(STAFF)[number % len(STAFF)]
        customer = f"wm-demo-{secrets.token_hex(4)}"
        name = CUSTOMERS[number % len(CUSTOMERS)]
        _, status = self.fake.add_contact(
            customer,
            staff,
            callback_url=self.callback_url,
            token=DEMO_TOKEN,
            encoding_aes_key=DEMO_AES_KEY,
            state="qr-live-1122",
            name=name,
        )
        if status != 200:
            log.warning("demo WeCom: the add callback was answered %s", status)
        return customer

    def confirm_due(self, after: float = CONFIRM_AFTER) -> list[str]:
        """The simulated staff tap: every task waiting `after` seconds is sent; their msgids."""
        now = self.fake.clock()
        due = [
            msgid
            for msgid, task in list(self.fake.tasks.items())
            if task.sent_at is None and now - task.create_time >= after
        ]
        for msgid in due:
            self.fake.confirm_task(msgid)
        return due


__all__ = ["ADD_EVERY", "CONFIRM_AFTER", "DemoWecom"]
