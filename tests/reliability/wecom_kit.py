"""What the WeCom connector tests share: a fake WeCom on loopback that keeps the test's simulated
time, the connector on the real store, and pending deliveries written straight into the outbox."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy import insert, select, update

from qunflow.engine import SimClock, Store
from qunflow.engine.clock import to_us
from qunflow.engine.connectors.wecom.fake import FakeWecom
from qunflow.engine.connectors.wecom.options import MassSendLimit, WecomOptions
from qunflow.engine.store import schema as t

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
_ids = itertools.count(1)


def options_for(fake: FakeWecom, **given: Any) -> WecomOptions:
    values: dict[str, Any] = {
        "corp_id": fake.corp_id,
        "secret": fake.secret,
        "agent_id": fake.agent_id,
        "token": "callback-token",
        "encoding_aes_key": AES_KEY,
        "api_base": fake.url,
        "public_url": "https://qunflow.example.com",
        "mass_send_limit": MassSendLimit(count=1, per="day"),
        "confirm_within": timedelta(days=1),
    }
    values.update(given)
    return WecomOptions(**values)


def outbox(
    store: Store, clock: SimClock, kind: str, payload: dict[str, Any], member: str | None, node: str = "send"
) -> int:
    """Write one pending delivery; returns its id."""
    delivery_id = next(_ids)
    at = to_us(clock.now())
    row = {
        "id": delivery_id,
        "key": f"run-{delivery_id}:{node}:1",
        "flow_id": "care",
        "node": node,
        "run_id": delivery_id,
        "member_id": member,
        "kind": kind,
        "payload": msgspec.json.encode(payload).decode(),
        "at": at,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": at,
    }
    with store.transaction() as conn:
        conn.execute(insert(t.deliveries).values(**row))
    return delivery_id


def add_group(store: Store, group: str, owner: str | None, name: str = "") -> None:
    with store.transaction() as conn:
        conn.execute(insert(t.groups).values(id=group, name=name or group, tags="[]", owner=owner))


def rows(store: Store) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in store.deliveries()}


def make_pending_again(store: Store, delivery_id: int) -> None:
    """As if the dispatcher's record of the outcome was lost: the delivery is due again."""
    c = t.deliveries.c
    with store.transaction() as conn:
        conn.execute(
            update(t.deliveries)
            .where(c.id == delivery_id)
            .values(status="pending", reference=None, lease_owner=None, next_attempt_at=0)
        )


def bodies(fake: FakeWecom, api: str) -> list[dict[str, Any]]:
    return [c.body for c in fake.calls_to(api) if c.errcode == 0]


def references(store: Store) -> dict[int, str | None]:
    c = t.deliveries.c
    with store.engine.connect() as conn:
        return dict(conn.execute(select(c.id, c.reference)).tuples().all())
