"""30 simulated days of N members through every flow template, via `simulate` (DESIGN §7).

The community is made up but fixed (one seed): members add a staff account through a channel code
and join a group over the first 20 days, half of them chat on a few days, some buy or click a link.
Timestamps are whole minutes in the daytime, as operators' traffic is.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
from importlib.resources import files
from typing import Any

import msgspec

from qunflow.engine import Event
from qunflow.engine.member import GroupRecord
from qunflow.engine.simulate import simulate
from qunflow.flows import load_template, template_names

from . import reference as w
from .measure import peak_rss_mb, per_second

DAYS = 30
DEFAULT_GROUPS = [
    {"id": "g-fans-1", "name": "粉丝福利 1 群", "tags": ["fans"], "kind": "fans"},
    {"id": "g-fans-2", "name": "粉丝福利 2 群", "tags": ["fans"], "kind": "fans"},
    {"id": "g-traffic-1", "name": "引流 1 群", "tags": ["traffic"], "kind": "traffic"},
]
CHANNELS = ("qr-live-1122", "qr-store-07", "qr-ad-3")


def groups() -> list[GroupRecord]:
    """The groups the templates' examples know, and a few of our own."""
    found = {g["id"]: g for g in DEFAULT_GROUPS}
    for path in files("qunflow.flows").joinpath("examples").iterdir():
        if path.name.endswith(".groups.jsonl"):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    group = msgspec.json.decode(line)
                    found[group["id"]] = group
    return [msgspec.convert(g, GroupRecord) for g in found.values()]


def community(members: int, group_ids: list[str], seed: int = 30) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []

    def at(day: int) -> Any:
        # 09:00–21:59 Shanghai is 01:00–13:59 UTC.
        return w.T0.replace(hour=1) + timedelta(days=day, minutes=rng.randrange(13 * 60))

    for index in range(members):
        mid = w.member_id(index)
        joined = rng.randrange(20)
        channel = rng.choice(CHANNELS)
        profile = {"name": w.member_name(index), "attributes": {"city": rng.choice(("上海", "北京", "杭州"))}}
        if rng.random() < 0.5:
            events.append(
                {
                    "id": f"c-{index}",
                    "type": "contact_added",
                    "member": mid,
                    "channel": channel,
                    "at": at(joined),
                    "profile": profile,
                }
            )
        events.append(
            {
                "id": f"j-{index}",
                "type": "member_joined",
                "member": mid,
                "group": rng.choice(group_ids),
                "channel": channel,
                "at": at(joined),
                "profile": profile,
            }
        )
        if w.is_active(index):
            for n, day in enumerate(sorted(rng.sample(range(joined, DAYS), k=min(3, DAYS - joined)))):
                events.append(
                    {
                        "id": f"m-{index}-{n}",
                        "type": "message",
                        "member": mid,
                        "at": at(day),
                        "data": {"text": "今天有什么活动？"},
                    }
                )
        if rng.random() < 0.2:
            events.append(
                {
                    "id": f"p-{index}",
                    "type": "purchase",
                    "member": mid,
                    "at": at(rng.randrange(joined, DAYS)),
                    "data": {"amount": rng.choice((39, 99, 299)), "product": "sku-1"},
                }
            )
        if rng.random() < 0.1:
            events.append(
                {
                    "id": f"l-{index}",
                    "type": "link_clicked",
                    "member": mid,
                    "at": at(rng.randrange(joined, DAYS)),
                    "data": {"url": "https://example.com/a"},
                }
            )
    return events


def measure(members: int) -> dict[str, Any]:
    """Simulate 30 days of `members` through every template; time the `simulate` call."""
    known = groups()
    events = msgspec.convert(
        community(members, [g.id for g in known if "fans" in g.tags] or [w.FANS_GROUP]), list[Event]
    )
    flows = [load_template(name) for name in template_names()]
    started = time.perf_counter()
    report = simulate(flows, events, f"P{DAYS}D", groups=known)
    seconds = time.perf_counter() - started
    runs = {flow: sum(counts.values()) for flow, counts in report["runs"].items()}
    return {
        "members": members,
        "days": DAYS,
        "templates": len(flows),
        "events": len(events),
        "seconds": round(seconds, 2),
        "events_per_s": per_second(len(events), seconds),
        "runs": runs,
        "deliveries": len(report["deliveries"]),
        "peak_rss_mb": peak_rss_mb(),
    }
