"""`qunflow serve --demo`: every flow template, live, and a small community with a few days of history.

The history is played under a simulated clock that ends now, so the first page a new user opens
already shows members at each node, finished journeys and deliveries; the real clock takes over.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from importlib.resources import files
from typing import Any

import msgspec

from qunflow.engine import Engine, SimClock
from qunflow.engine.content import ContentItem, MiniProgram
from qunflow.engine.errors import NotFound, QunflowError
from qunflow.engine.event import Event, Profile, convert_events, decode_event_lines
from qunflow.engine.member import GroupRecord, StaffRecord, TagRecord
from qunflow.engine.simulate import drive
from qunflow.flows import load_template, template_names

from .services import Services

HISTORY = timedelta(days=3)
MARKER_MEMBER = "demo-m-01"

GROUPS = [
    GroupRecord("g-fans-1", "粉丝福利 1 群", ["fans"], "fans", owner="staff-wang"),
    GroupRecord("g-fans-2", "粉丝福利 2 群", ["fans"], "fans", owner="staff-wang"),
    GroupRecord("g-traffic-1", "引流 1 群", ["traffic"], "traffic", owner="staff-li"),
    GroupRecord("g-flash-1", "限时秒杀群", ["flash_sale"], "flash_sale", owner="staff-li"),
    GroupRecord("vip-1", "VIP 尊享 1 群", ["vip"], "vip", capacity=200, owner="staff-wang"),
    GroupRecord("vip-2", "VIP 尊享 2 群", ["vip"], "vip", capacity=200, owner="staff-wang"),
]
STAFF = [
    StaffRecord("staff-wang", "王店长", 20),
    StaffRecord("staff-li", "李客服", 15),
    # The staff the templates and their example events name, so their tasks and adds show a name.
    StaffRecord("s-ops", "赵运营"),
    StaffRecord("s-care", "客服小美"),
    StaffRecord("s-anna", "安娜"),
    StaffRecord("s-bob", "鲍勃"),
]
TAGS = [
    TagRecord("new", "growth", "#0b7a75"),
    TagRecord("vip", "growth", "#b45309"),
    TagRecord("fans", "behaviour", "#2563eb"),
    *(TagRecord(channel, "channel") for channel in ("qr-live-1122", "qr-store-07")),
]
CONTENT = [
    ContentItem(
        "welcome-script", "新人欢迎话术", text="{{ member.name }}，欢迎加入{{ group.name }}！置顶有新人券哦"
    ),
    ContentItem(
        "shop-card",
        "小程序商城卡片",
        kind="miniprogram",
        miniprogram=MiniProgram("wx0000000000000000", "pages/index/index?from=qunflow", "进店逛逛"),
    ),
]
NAMES = (
    "小林 阿强 王姐 陈晨 李娜 张伟 刘洋 杨帆 赵敏 黄磊 周婷 吴昊 徐静 孙悦 胡斌 朱丽 高翔 林芳 何琳 郭涛 "
    "马超 罗佳 梁爽 宋雨 郑凯 谢雯 韩梅 唐宁 冯雪 董洁 萧然 程远 曹颖 袁野 邓超 许晴 傅云 沈默 曾可 彭博"
).split()
CHANNELS = ["qr-live-1122", "qr-store-07", "qr-wechat-article", "qr-offline-event"]
MESSAGES = ["今天有什么活动？", "收到，谢谢", "这个券怎么用", "打卡", "好物推荐一下", "已下单", "👍"]
PRODUCTS = ["面霜", "精华", "洗面奶", "防晒", "礼盒"]


class DemoSummary(msgspec.Struct):
    flows: list[str]
    skipped: list[str]
    members: int
    events: int
    deliveries: int


def community_events(end: datetime, seed: int = 7) -> list[dict[str, Any]]:
    """Members joining groups over the last days, chatting and buying (deterministic for a seed)."""
    rng = random.Random(seed)
    start = end - HISTORY
    events: list[dict[str, Any]] = []
    for index, name in enumerate(NAMES, start=1):
        member = f"demo-m-{index:02d}"
        joined = start + timedelta(minutes=rng.randrange(int(HISTORY.total_seconds() // 60 * 0.8)))
        group = rng.choice(["g-fans-1", "g-fans-1", "g-fans-2", "g-traffic-1"])
        channel = rng.choice(CHANNELS)
        city = rng.choice(["上海", "杭州", "北京"])
        events.append(
            {
                "id": f"{member}-join", "type": "member_joined", "member": member, "group": group,
                "channel": channel, "at": joined,
                "profile": {"name": name, "channel": channel, "attributes": {"city": city}},
            }
        )  # fmt: skip
        moment = joined
        for number in range(rng.choice([0, 1, 2, 3, 5, 8])):
            moment += timedelta(minutes=rng.randrange(20, 600))
            if moment >= end:
                break
            events.append(
                {"id": f"{member}-msg-{number}", "type": "message", "member": member, "group": group,
                 "at": moment, "data": {"text": rng.choice(MESSAGES)}}
            )  # fmt: skip
        if rng.random() < 0.3 and moment + timedelta(hours=2) < end:
            amount, product = rng.choice([39, 99, 199, 399]), rng.choice(PRODUCTS)
            events.append(
                {"id": f"{member}-buy", "type": "purchase", "member": member,
                 "at": moment + timedelta(hours=2), "data": {"amount": amount, "product": product}}
            )  # fmt: skip
    for event in events:
        # On the hour: events of one hour are ingested together, which keeps loading quick.
        event["at"] = event["at"].replace(minute=0, second=0, microsecond=0).isoformat()
    return events


def example_names() -> dict[str, str]:
    """The names the templates' example members files give their members (the first file to name a
    member wins)."""
    names: dict[str, str] = {}
    for item in sorted(files("qunflow.flows").joinpath("examples").iterdir(), key=lambda p: p.name):
        if item.name.endswith(".members.jsonl"):
            for line in item.read_text(encoding="utf-8").splitlines():
                record = msgspec.json.decode(line) if line.strip() else {}
                if isinstance(record.get("name"), str) and record["name"]:
                    names.setdefault(str(record["id"]), record["name"])
    return names


def _named(events: list[Event], names: dict[str, str]) -> list[Event]:
    """`events`, with the first event of each member that none of them names carrying the name
    `names` gives: a message to her then reads 「推广号，本群禁止…」, not 「，本群禁止…」."""
    named = {e.member for e in events if e.profile is not None and e.profile.name}
    out = []
    for event in sorted(events, key=lambda e: e.at):
        if event.member and event.member not in named and event.member in names:
            named.add(event.member)
            profile = msgspec.structs.replace(event.profile or Profile(), name=names[event.member])
            event = msgspec.structs.replace(event, profile=profile)
        out.append(event)
    return out


def example_events(end: datetime) -> list[Event]:
    """The templates' example events, moved so they start `HISTORY` ago; later ones are dropped. A
    member the events do not name is named as the examples' members files name her."""
    found: list[Event] = []
    folder = files("qunflow.flows").joinpath("examples")
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".events.jsonl"):
            continue
        prefix = "demo-" + item.name.removesuffix(".events.jsonl") + "-"
        events = decode_event_lines(item.read_text(encoding="utf-8"), item.name)
        if not events:
            continue
        shift = (end - HISTORY) - min(e.at for e in events)
        found += [
            msgspec.structs.replace(e, id=prefix + e.id, at=e.at + shift)
            for e in events
            if e.at + shift <= end
        ]
    return _named(found, example_names())


def example_groups() -> list[GroupRecord]:
    groups: list[GroupRecord] = []
    for item in files("qunflow.flows").joinpath("examples").iterdir():
        if item.name.endswith(".groups.jsonl"):
            for line in item.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    groups.append(msgspec.json.decode(line, type=GroupRecord))
    return groups


def load_demo(services: Services) -> DemoSummary | None:
    """Load the demo once per database; None when it is there already."""
    try:
        services.store.get_member(MARKER_MEMBER)
        return None
    except NotFound:
        pass
    end = services.clock.now()
    clock = SimClock(end - HISTORY)
    engine = Engine(services.store, services.registry, clock)
    loaded, skipped = [], []
    for name in template_names():
        try:
            engine.deploy(load_template(name))
            loaded.append(name)
        except QunflowError:  # a template this build's nodes cannot run: show the others
            skipped.append(name)
    # The demo's community data goes in as an operator's would (the stores behind the API and imports).
    services.store.put_groups([*example_groups(), *GROUPS])
    services.store.put_staff(STAFF)
    services.store.put_tags(TAGS)
    services.store.put_content(CONTENT, services.now_us())
    events = sorted([*example_events(end), *convert_events(community_events(end))], key=lambda e: e.at)
    drive(engine, clock, events, end)
    services.engine.flows.reload()
    return DemoSummary(
        flows=loaded,
        skipped=skipped,
        members=len(services.store.all_members()),
        events=len(events),
        deliveries=sum(services.store.delivery_counts().values()),
    )
