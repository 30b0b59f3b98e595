"""The whole WeCom loop over real HTTP on loopback (issue 16's "done when"), on SQLite and PostgreSQL:
a fake WeCom in the test process posts encrypted add callbacks to a real `qunflow serve`; the flow
contact_added → send_welcome → send_message runs; the fake receives `send_welcome_msg` with each
add's code and `add_msg_template` from each customer's owner staff, once each, however often WeCom
repeats the callbacks and even when a `qunflow worker` is killed while a mass send is under way;
the staff tap at the fake then makes the messages `sent`."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fleet import qunflow_command
from processes import Serve, Worker
from sqlalchemy import select, update

from qunflow.engine import Store
from qunflow.engine.connectors.wecom.fake import FakeWecom
from qunflow.engine.store import schema as t

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TOKEN = "loop-callback-token"
WELCOME = "externalcontact/send_welcome_msg"
ADD = "externalcontact/add_msg_template"
DEADLINE = 90.0  # generous: a loaded machine; nothing here measures speed
FLOW = {
    "id": "new-customer",
    "name": "新客欢迎",
    "nodes": [
        {"id": "added", "type": "trigger.contact_added", "config": {}},
        {"id": "welcome", "type": "action.send_welcome", "config": {"text": "欢迎！"}},
        {"id": "follow", "type": "action.send_message", "config": {"text": "本周福利已上线"}},
    ],
    "edges": [{"from": "added", "to": "welcome"}, {"from": "welcome", "to": "follow"}],
}
CUSTOMERS = {"wm-a": "zhangsan", "wm-b": "zhangsan", "wm-c": "lisi", "wm-d": "lisi"}


def eventually(check: Any, what: str, deadline: float = DEADLINE) -> Any:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(0.2)  # waiting for other processes, not measuring anything
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def fake() -> Iterator[FakeWecom]:
    with FakeWecom(quota=5, quota_per="day") as fake:
        for staff in set(CUSTOMERS.values()):
            fake.add_staff(staff)
        yield fake


@pytest.fixture
def secret_env() -> dict[str, str]:
    # The processes share one key for the stored secrets (and write no key file).
    return {"QUNFLOW_SECRET_KEY": Fernet.generate_key().decode()}


def start_serve(db: str, tmp_path: Path, env: dict[str, str]) -> Serve:
    made = subprocess.run(
        [*qunflow_command(), "token", "create", "--role", "admin", "--db", db],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert made.returncode == 0, made.stderr
    serve = Serve(db, tmp_path, made.stdout.strip())
    serve.env.update(env)
    serve.start(timeout=60)
    return serve


def connect(serve: Serve, fake: FakeWecom) -> None:
    options = {
        "corp_id": fake.corp_id,
        "secret": fake.secret,
        "agent_id": fake.agent_id,
        "token": TOKEN,
        "encoding_aes_key": AES_KEY,
        "api_base": fake.url,
        "mass_send_limit": {"count": 5, "per": "day"},
    }
    status, answer = serve.call("PUT", "/api/connectors/wecom", options)
    assert status == 200, answer
    status, answer = serve.call("PUT", "/api/connectors/routes", {"welcome": "wecom", "message": "wecom"})
    assert status == 200, answer
    assert serve.call("POST", "/api/flows", FLOW)[0] == 200
    assert serve.call("POST", f"/api/flows/{FLOW['id']}/publish")[0] == 200


def add_everyone(serve: Serve, fake: FakeWecom) -> dict[str, str]:
    """Each customer adds their staff; then WeCom sends every callback again (a retry, re-encrypted)."""
    url = f"http://127.0.0.1:{serve.port}/wecom/callback"
    codes = {}
    for customer, staff in CUSTOMERS.items():
        code, status = fake.add_contact(
            customer, staff, callback_url=url, token=TOKEN, encoding_aes_key=AES_KEY
        )
        assert status == 200
        codes[customer] = code
    for xml in list(fake.callbacks):
        assert fake.post_callback(url, xml, TOKEN, AES_KEY) == 200
    return codes


def statuses(db: Store, kind: str) -> dict[str, str]:
    c = t.deliveries.c
    with db.engine.connect() as conn:
        rows = conn.execute(select(c.member_id, c.status).where(c.kind == kind)).all()
    found = Counter(member for member, _ in rows)
    assert all(n == 1 for n in found.values()), f"a {kind} delivery made twice: {found}"
    return dict(rows)


def settled(db: Store, kind: str, status: str) -> bool:
    found = statuses(db, kind)
    return set(found) == set(CUSTOMERS) and set(found.values()) == {status}


def assert_each_call_once(fake: FakeWecom, codes: dict[str, str]) -> None:
    welcomes = [c.body for c in fake.calls_to(WELCOME) if c.errcode == 0]
    assert sorted(w["welcome_code"] for w in welcomes) == sorted(codes.values())
    assert all(w["text"]["content"] == "欢迎！" for w in welcomes)
    recipients: Counter[str] = Counter()
    for task in fake.tasks.values():
        assert task.chat_type == "single" and task.text["content"] == "本周福利已上线"
        assert all(CUSTOMERS[m] == task.sender for m in task.recipients), "sent as the owner staff"
        recipients.update(task.recipients)
    assert recipients == Counter(CUSTOMERS.keys()), "each customer in exactly one mass-send task"


def tap_everything(fake: FakeWecom) -> None:
    for msgid, task in list(fake.tasks.items()):
        if task.sent_at is None:
            fake.confirm_task(msgid)


def test_adds_in_welcome_and_message_out_once_then_the_tap_sends(
    store_url: str, tmp_path: Path, fake: FakeWecom, secret_env: dict[str, str]
) -> None:
    serve = start_serve(store_url, tmp_path, secret_env)
    db = Store.open(store_url)
    try:
        connect(serve, fake)
        codes = add_everyone(serve, fake)

        eventually(lambda: settled(db, "welcome", "sent"), "every welcome to be sent")
        eventually(lambda: settled(db, "message", "awaiting_confirmation"), "the mass sends to wait")
        assert_each_call_once(fake, codes)
        status, member = serve.call("GET", "/api/members/wm-c")
        assert status == 200 and member["member"]["staff"] == "lisi"

        tap_everything(fake)
        eventually(lambda: settled(db, "message", "sent"), "the staff tap to be seen")
        assert_each_call_once(fake, codes)
    finally:
        serve.stop()
        db.close()


def test_a_worker_killed_during_a_mass_send_makes_no_second_task(
    pg_url: str, tmp_path: Path, fake: FakeWecom, secret_env: dict[str, str]
) -> None:
    serve = start_serve(pg_url, tmp_path, secret_env)
    db = Store.open(pg_url)
    workers: list[Worker] = []
    try:
        connect(serve, fake)
        # WeCom is busy for mass sends while `serve` runs: the messages wait, pending, for a retry.
        fake.fail_next(ADD, -1, "system busy", times=10_000)
        codes = add_everyone(serve, fake)
        eventually(lambda: settled(db, "welcome", "sent"), "every welcome to be sent")
        eventually(lambda: settled(db, "message", "pending"), "the messages to be made")
        assert serve.stop()[1] == 0

        # Now WeCom makes tasks but answers slowly; a worker takes the batch and is killed mid-call.
        fake.clear_failures(ADD)
        fake.delay_answers(ADD, 30)
        c = t.deliveries.c
        with db.transaction() as conn:
            conn.execute(update(t.deliveries).where(c.status == "pending").values(next_attempt_at=0))
        first = Worker(pg_url, tmp_path, "--lease", "3", env=secret_env)
        workers.append(first)
        first.start()
        eventually(lambda: [c for c in fake.calls_to(ADD) if c.errcode == 0], "a mass send under way")
        first.stop(signal.SIGKILL)

        fake.delay_answers(ADD, 0)
        second = Worker(pg_url, tmp_path, "--lease", "3", env=secret_env)
        workers.append(second)
        second.name = "worker-2"
        second.start()
        eventually(lambda: settled(db, "message", "awaiting_confirmation"), "the batch to settle")
        assert_each_call_once(fake, codes)
        # The second worker found the task the killed one made, rather than making another.
        assert fake.calls_to("externalcontact/get_groupmsg_list_v2")

        tap_everything(fake)
        eventually(lambda: settled(db, "message", "sent"), "the staff tap to be seen")
        assert_each_call_once(fake, codes)
    finally:
        for worker in workers:
            worker.close()
        serve.close()
        db.close()
