"""Triggers: which events start a run (DESIGN §5). Each says whether `ctx.event` starts one."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from qunflow.sdk import Comparison, Config, Context, Names, holds, trigger

from .common import where_scope
from .patterns import PatternRefused, compile_pattern, search


def _allows(wanted: list[str] | None, value: object) -> bool:
    return not wanted or value in wanted


def _group_matches(ctx: Context, groups: list[str] | None, group_tags: list[str] | None) -> bool:
    group = ctx.event["group"]
    if groups and group not in groups:
        return False
    if not group_tags:
        return True
    tags = ctx.group(group)["tags"] or ()
    for tag in group_tags:
        if tag in tags:
            return True
    return False


class ContactAdded(Config):
    channels: Names | None = None
    staff: Names | None = None


@trigger(
    "trigger.contact_added",
    on=("contact_added",),
    title={"zh": "添加好友", "en": "Contact added"},
    description={
        "zh": "成员通过渠道活码添加员工为好友",
        "en": "A member adds a staff account (via a channel QR code)",
    },
    icon="user-plus",
)
def contact_added(ctx: Context, config: ContactAdded) -> bool:
    event = ctx.event
    return _allows(config.channels, event["channel"]) and _allows(config.staff, event["data"].get("staff"))


class ContactDeleted(Config):
    by: Literal["staff", "customer"] | None = None
    staff: Names | None = None


@trigger(
    "trigger.contact_deleted",
    on=("contact_deleted",),
    title={"zh": "删除好友（流失）", "en": "Contact deleted (churn)"},
    description={
        "zh": "员工删除了客户，或客户删除了员工（流失信号）",
        "en": "A staff account removed the member, or the member removed the staff account (churn)",
    },
    icon="user-minus",
)
def contact_deleted(ctx: Context, config: ContactDeleted) -> bool:
    data = ctx.event["data"]
    if config.by is not None and data.get("by") != config.by:
        return False
    return _allows(config.staff, data.get("staff"))


class MemberJoined(Config):
    groups: Names | None = None
    group_tags: Names | None = None
    channels: Names | None = None


@trigger(
    "trigger.member_joined",
    on=("member_joined",),
    title={"zh": "新成员入群", "en": "Member joined a group"},
    description={"zh": "成员加入群聊", "en": "A member joins a group"},
    icon="log-in",
)
def member_joined(ctx: Context, config: MemberJoined) -> bool:
    return _allows(config.channels, ctx.event["channel"]) and _group_matches(
        ctx, config.groups, config.group_tags
    )


class MemberLeft(Config):
    groups: Names | None = None
    group_tags: Names | None = None


@trigger(
    "trigger.member_left",
    on=("member_left",),
    title={"zh": "成员退群", "en": "Member left a group"},
    description={"zh": "成员离开群聊", "en": "A member leaves a group"},
    icon="log-out",
)
def member_left(ctx: Context, config: MemberLeft) -> bool:
    return _group_matches(ctx, config.groups, config.group_tags)


class MessagePosted(Config):
    groups: Names | None = None
    keywords: Names | None = None
    match: Literal["any", "all", "regex"] = "any"

    def __post_init__(self) -> None:
        if self.match == "regex":
            for index, keyword in enumerate(self.keywords or ()):
                try:
                    compile_pattern(keyword)
                except PatternRefused as refused:
                    raise ValueError(f"keywords[{index}]: {refused}") from None


@trigger(
    "trigger.message",
    on=("message",),
    title={"zh": "成员发言", "en": "Message posted"},
    description={
        "zh": "成员在群里或私聊发消息，可按关键词过滤",
        "en": "A member posts a message, optionally with keywords",
    },
    icon="message-circle",
)
def message(ctx: Context, config: MessagePosted) -> bool:
    event = ctx.event
    if config.groups and event["group"] not in config.groups:
        return False
    if not config.keywords:
        return True
    text = str(event["data"].get("text", ""))
    if config.match == "all":
        return all(k in text for k in config.keywords)
    if config.match == "regex":
        return any(search(k, text) for k in config.keywords)
    return any(k in text for k in config.keywords)


class Purchased(Config):
    min_amount: Annotated[float, Meta(ge=0)] | None = None
    products: Names | None = None


@trigger(
    "trigger.purchase",
    on=("purchase",),
    title={"zh": "成员下单", "en": "Purchase"},
    description={"zh": "成员购买商品", "en": "A member buys"},
    icon="shopping-cart",
)
def purchase(ctx: Context, config: Purchased) -> bool:
    data = ctx.event["data"]
    amount = data.get("amount", 0)
    if config.min_amount is not None and not (
        isinstance(amount, int | float) and amount >= config.min_amount
    ):
        return False
    return _allows(config.products, data.get("product"))


class TagAdded(Config):
    tags: Annotated[Names, Meta(min_length=1)]


@trigger(
    "trigger.tag_added",
    on=("tag_added",),
    title={"zh": "被打上标签", "en": "Tag added"},
    description={"zh": "成员被打上标签（人工或其他流程）", "en": "A tag is added to a member (by anyone)"},
    icon="tag",
)
def tag_added(ctx: Context, config: TagAdded) -> bool:
    return ctx.event["data"].get("tag") in config.tags


class CustomEvent(Config):
    event: Annotated[str, Meta(min_length=1, max_length=200)]
    where: Comparison | list[Comparison] | None = None


@trigger(
    "trigger.event",
    on=lambda config: (config.event,),
    title={"zh": "自定义事件", "en": "Custom event"},
    description={
        "zh": "收到指定类型的事件（可按字段过滤）",
        "en": "A custom event of a type arrives (optionally filtered)",
    },
    icon="zap",
)
def custom_event(ctx: Context, config: CustomEvent) -> bool:
    return holds(config.where, where_scope(ctx))
