"""Actions: change the member or record a delivery for the outside world (DESIGN §5)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from msgspec import Meta

from qunflow.sdk import (
    DELIVERY_SETTLED,
    EXIT,
    MAX_POINTS,
    NEXT,
    Config,
    ContentItem,
    ContentRef,
    Context,
    Duration,
    Fail,
    FlowRef,
    Go,
    Grade,
    Name,
    Names,
    NoConfig,
    Outcome,
    Stage,
    Template,
    WaitFor,
    WaitUntil,
    action,
)

from .quota import BUDGET, message_gate, skips_for_budget

Tags = Annotated[Names, Meta(min_length=1)]


class TagsConfig(Config):
    tags: Tags


@action(
    "action.add_tag",
    title={"zh": "打标签", "en": "Add tag"},
    description={"zh": "给成员打上标签", "en": "Add tags to the member"},
    icon="tag",
)
def add_tag(ctx: Context, config: TagsConfig) -> Outcome:
    if ctx.member is not None:
        ctx.member.add_tags(config.tags)
    return NEXT


@action(
    "action.remove_tag",
    title={"zh": "移除标签", "en": "Remove tag"},
    description={"zh": "移除成员的标签", "en": "Remove tags from the member"},
    icon="tag",
)
def remove_tag(ctx: Context, config: TagsConfig) -> Outcome:
    if ctx.member is not None:
        ctx.member.remove_tags(config.tags)
    return NEXT


class SetAttribute(Config):
    # `city`, `attributes.city` or `member.attributes.city` all name the attribute `city`.
    field: Annotated[str, Meta(pattern=r"^(member\.)?(attributes\.)?[A-Za-z0-9_\-]{1,100}$")]
    value: Any = None


@action(
    "action.set_attribute",
    title={"zh": "设置属性", "en": "Set attribute"},
    description={"zh": "设置成员的自定义属性", "en": "Set a custom attribute of the member"},
    icon="edit",
)
def set_attribute(ctx: Context, config: SetAttribute) -> Outcome:
    if ctx.member is not None:
        key = config.field.removeprefix("member.").removeprefix("attributes.")
        ctx.member.set(f"attributes.{key}", config.value)
    return NEXT


class AddPoints(Config):
    points: Annotated[int, Meta(ge=-MAX_POINTS, le=MAX_POINTS)]
    reason: str | None = None


@action(
    "action.add_points",
    title={"zh": "加积分", "en": "Add points"},
    description={"zh": "增加或扣减积分（不会低于 0）", "en": "Add or take away points (never below 0)"},
    icon="star",
)
def add_points(ctx: Context, config: AddPoints) -> Outcome:
    if ctx.member is not None:
        ctx.member.set("points", min(MAX_POINTS, max(0, ctx.member.points + config.points)))
    return NEXT


class SetGrade(Config):
    grade: Grade


@action(
    "action.set_grade",
    title={"zh": "设置成长等级", "en": "Set grade"},
    description={"zh": "设置成员的成长等级 S/A/B/C", "en": "Set the member's growth grade S/A/B/C"},
    icon="award",
)
def set_grade(ctx: Context, config: SetGrade) -> Outcome:
    if ctx.member is not None:
        ctx.member.set("grade", config.grade)
    return NEXT


class SetStage(Config):
    stage: Stage


@action(
    "action.set_stage",
    title={"zh": "设置生命周期阶段", "en": "Set stage"},
    description={"zh": "潜客 → 客户 → 会员 → KOC", "en": "Prospect → customer → member → KOC"},
    icon="trending-up",
)
def set_stage(ctx: Context, config: SetStage) -> Outcome:
    if ctx.member is not None:
        ctx.member.set("stage", config.stage)
    return NEXT


class SendMessage(Config):
    text: Template | None = None
    # An item of the content library (话术库): its text is the message, and the delivery carries it.
    content: ContentRef | None = None
    to: Literal["member", "group"] = "member"
    group: Name | None = None
    # Wait until the message is sent or has failed (DESIGN §20): ports `sent` and `failed`.
    wait: bool = False

    def __post_init__(self) -> None:
        if (self.text is None) == (self.content is None):
            raise ValueError("give either `text` or `content`")
        if self.to == "group" and self.group is None:
            raise ValueError("`group` is needed when sending to a group")


def message_payload(
    ctx: Context, text: str | None, item: ContentItem | None, to: str, group: str | None
) -> dict[str, Any]:
    """A `message` delivery's payload (DESIGN §15): `text` rendered — the node's, or the content
    item's — and the item itself under `content`."""
    if item is not None:
        text = item.text
    payload: dict[str, Any] = {"text": ctx.render(text, group) if text is not None else "", "to": to}
    if group is not None:
        payload["group"] = group
    if item is not None:
        payload["content"] = item.payload()
    return payload


def content_item(ctx: Context, ref: str | None) -> ContentItem | Fail | None:
    """The item a node names (None when it names none), or the failure when the library lost it
    after the flow was published."""
    if ref is None:
        return None
    item = ctx.content(ref)
    return (
        item
        if item is not None
        else Fail(f"config.content: there is no content item `{ref}` (话术库中没有这一条)")
    )


# How a delivery that ended without reaching anyone settles: the `failed` port.
NOT_SENT = frozenset({"failed", "skipped", "cancelled"})


def _message_ports(config: SendMessage | None) -> list[str]:
    return ["sent", "failed"] if config is not None and config.wait else ["next"]


def _message(ctx: Context, config: SendMessage) -> tuple[str, dict[str, Any]] | Fail:
    """The `message` delivery the node makes now (its payload rendered for the run's member), or the
    failure when its content item is gone. The step sends it; a test send (测试发送) too."""
    item = content_item(ctx, config.content)
    if isinstance(item, Fail):
        return item
    return "message", message_payload(ctx, config.text, item, config.to, config.group)


@action(
    "action.send_message",
    ports=_message_ports,
    message=_message,
    title={"zh": "发送消息", "en": "Send message"},
    description={
        "zh": "私聊成员或在群里发消息，支持 {{ member.name }} 占位符；"
        "遵守免打扰时段和频次上限（延后发送，不丢弃）；私聊计入社群触达预算",
        "en": "Message the member or a group; placeholders like {{ member.name }}; "
        "held back by quiet hours and the frequency cap (deferred, never dropped); "
        "private messages count towards the community's touch budget",
    },
    icon="send",
)
def send_message(ctx: Context, config: SendMessage) -> Outcome:
    if config.wait:
        settled = ctx.settlement
        if settled is not None:
            # `recorded`: the recording connector stands in for the outside world and keeps what it
            # is given, as it takes an invitation as accepted (DESIGN §5); the delivery says so.
            return Go("failed" if settled.get("status") in NOT_SENT else "sent")
        if ctx.wake_event is not None:  # sent already; something else woke the step
            return WaitFor(DELIVERY_SETTLED)
    member = ctx.member.id if config.to == "member" and ctx.member is not None else None
    held = message_gate(ctx, member)
    if held is not None:
        return WaitUntil(held)
    made = _message(ctx, config)
    if isinstance(made, Fail):
        return made
    _, payload = made
    if skips_for_budget(ctx, member):
        ctx.skip_delivery("message", payload, BUDGET)
        # Not made: a message that waits for its result takes the `failed` port at once.
        return Go("failed") if config.wait else NEXT
    if not config.wait:
        ctx.deliver("message", payload)
        return NEXT
    ctx.deliver("message", payload, wait=True)
    return WaitFor(DELIVERY_SETTLED)


class SendWelcome(Config):
    text: Template | None = None
    # An item of the content library (话术库): its text is the welcome, and the delivery carries it.
    content: ContentRef | None = None

    def __post_init__(self) -> None:
        if (self.text is None) == (self.content is None):
            raise ValueError("give either `text` or `content`")


def _welcome(ctx: Context, config: SendWelcome) -> tuple[str, dict[str, Any]] | Fail:
    """The `welcome` delivery the node makes (its text rendered for the member, the add's welcome
    code), or the failure when its content item is gone."""
    item = content_item(ctx, config.content)
    if isinstance(item, Fail):
        return item
    text = item.text if item is not None else config.text
    event = ctx.event or {}
    payload: dict[str, Any] = {
        "text": ctx.render(text) if text is not None else "",
        # None when WeCom issued no code (a welcome set in its console, or a chat already begun):
        # the connector then reports the welcome failed rather than pretending.
        "welcome_code": (event.get("data") or {}).get("welcome_code"),
    }
    if item is not None:
        payload["content"] = item.payload()
    return "welcome", payload


@action(
    "action.send_welcome",
    after=("trigger.contact_added",),
    message=_welcome,
    title={"zh": "发送欢迎语", "en": "Send welcome message"},
    description={
        "zh": "客户添加员工后立即发送欢迎语（企业微信：20 秒内、仅一次）；只能紧接在「添加好友」触发器之后",
        "en": "Welcome a member right after they add a staff account (WeCom: once, within 20 s); "
        "only directly after the Contact added trigger",
    },
    icon="smile",
)
def send_welcome(ctx: Context, config: SendWelcome) -> Outcome:
    # Not a `message`: quiet hours, caps and the touch budget do not hold a welcome back, since
    # WeCom takes it only within 20 seconds of the add.
    made = _welcome(ctx, config)
    if isinstance(made, Fail):
        return made
    ctx.deliver("welcome", made[1], once=True)
    return NEXT


class SendCoupon(Config):
    coupon: Name


@action(
    "action.send_coupon",
    title={"zh": "发优惠券", "en": "Send coupon"},
    description={
        "zh": "给成员发一张优惠券（每次旅程每个节点最多一次）",
        "en": "Send the member a coupon (at most once per run and node)",
    },
    icon="gift",
)
def send_coupon(ctx: Context, config: SendCoupon) -> Outcome:
    ctx.deliver("coupon", {"coupon": config.coupon}, once=True)
    return NEXT


class InviteToGroup(Config):
    groups: Annotated[Names, Meta(min_length=1)]
    capacity: Annotated[int, Meta(ge=1, le=500)] = 200
    # Wait for the member to join the group they were invited to (DESIGN §20), at most `within`:
    # ports `joined` and `not_joined` instead of `next`.
    wait: bool = False
    within: Duration = timedelta(days=3)

    def __post_init__(self) -> None:
        if self.within <= timedelta(0):
            raise ValueError("`within` must be a positive duration")


def _invite_ports(config: InviteToGroup | None) -> list[str]:
    waits = config is not None and config.wait
    return ["joined", "not_joined", "full", "blocked"] if waits else ["next", "full", "blocked"]


@action(
    "action.invite_to_group",
    ports=_invite_ports,
    title={"zh": "邀请入群", "en": "Invite to group"},
    description={
        "zh": "邀请进群池中第一个未满的群；都满走「已满」，黑名单走「拦截」；"
        "等待时按期限内「已入群 / 未入群」分支",
        "en": "Invite to the first group in the pool with room; when waiting, branch on joined / not "
        "joined within the time given",
    },
    icon="user-check",
)
def invite_to_group(ctx: Context, config: InviteToGroup) -> Outcome:
    if config.wait:
        return _invite_and_wait(ctx, config)
    member = ctx.member
    if member is None:
        return Go("full")
    if member.blacklisted:
        return Go("blocked")
    if ctx.in_any_group(config.groups):
        return NEXT  # already in a group of this pool
    group = ctx.first_group_with_room(config.groups, config.capacity)
    if group is None:
        return Go("full")
    ctx.deliver("invite", {"group": group})
    ctx.join_group(group)
    return NEXT


def _invite_and_wait(ctx: Context, config: InviteToGroup) -> Outcome:
    """Invite, then wait for the member's `member_joined` into the group invited to. The invitation
    is not taken as accepted: joining is what the event reports."""
    key = f"_invite.{ctx.node_id}"
    invited = ctx.vars.get(key) if ctx.run is not None and ctx.run.vars else None
    until = ctx.entered_at + config.within
    if invited is None:
        member = ctx.member
        if member is None:
            return Go("full")
        if member.blacklisted:
            return Go("blocked")
        if ctx.in_any_group(config.groups):
            return Go("joined")  # already in a group of this pool
        group = ctx.first_group_with_room(config.groups, config.capacity)
        if group is None:
            return Go("full")
        ctx.deliver("invite", {"group": group})
        ctx.set_var(key, group)
        return WaitFor("member_joined", until=until)
    woke = ctx.wake_event
    if woke is not None and woke.get("type") == "member_joined" and woke.get("group") == invited:
        ctx.vars.pop(key, None)
        return Go("joined")
    if ctx.now >= until:
        ctx.vars.pop(key, None)
        return Go("not_joined")
    return WaitFor("member_joined", until=until)


class StartFlow(Config):
    flow: FlowRef


@action(
    "action.start_flow",
    title={"zh": "进入另一流程", "en": "Start flow"},
    description={"zh": "让成员进入另一个已发布的流程", "en": "Start the member on another published flow"},
    icon="corner-down-right",
)
def start_flow(ctx: Context, config: StartFlow) -> Outcome:
    ctx.start_flow(config.flow)
    return NEXT


@action(
    "action.exit",
    ports=(),
    title={"zh": "结束", "en": "Exit"},
    description={"zh": "结束本次旅程", "en": "End the run"},
    icon="x-circle",
)
def exit_flow(ctx: Context, config: NoConfig) -> Outcome:
    return EXIT
