"""Community-operations actions (DESIGN §5): broadcasts (群发), removal and blacklist, friend
requests under staff daily limits, and staff follow-up tasks (成员任务)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta
from typing import Annotated, Literal

from msgspec import Meta

from qunflow.sdk import (
    NEXT,
    Audience,
    Config,
    ContentItem,
    ContentRef,
    Context,
    Duration,
    Fail,
    Go,
    Name,
    Names,
    Outcome,
    Template,
    WaitFor,
    WaitUntil,
    action,
    local_moment,
)

from .actions import content_item, message_payload
from .quota import (
    BUDGET,
    WAIT_REASON,
    budget_turn,
    capped_until,
    outside_quiet_hours,
    over_budget,
    quiet_until,
)

MIDNIGHT = time(0, 0)
Positive = Duration


class Broadcast(Config):
    audience: Audience
    text: Template | None = None
    # An item of the content library (话术库): its text is the message, and each delivery carries it.
    content: ContentRef | None = None
    # `member`: one private message per member in the audience; `group`: one post in each of
    # `audience.groups`.
    to: Literal["member", "group"] = "member"

    def __post_init__(self) -> None:
        if (self.text is None) == (self.content is None):
            raise ValueError("give either `text` or `content`")
        if self.to == "group" and not self.audience.groups:
            raise ValueError("`audience.groups` names the groups to post in when `to` is `group`")


def _broadcast_message(ctx: Context, config: Broadcast) -> tuple[str, dict[str, object]] | Fail:
    """The message the broadcast makes for `ctx.member` as one of its recipients (`to: member`), or
    its post in the first of its groups (`to: group`); the failure when its content item is gone.
    What a test send (测试发送) of the node sends."""
    item = content_item(ctx, config.content)
    if isinstance(item, Fail):
        return item
    if config.to == "group":
        first = (config.audience.groups or [None])[0]
        return "message", message_payload(ctx, config.text, item, "group", first)
    text = item.text if item is not None else config.text
    member = ctx.member
    # As the walk renders each recipient's text (`render_for`); without a member, for no one.
    rendered = "" if text is None else ctx.render_for(member, text) if member else ctx.render(text)
    return "message", _to_member(rendered, item)


def _to_member(text: str, item: ContentItem | None) -> dict[str, object]:
    """A recipient's message: its rendered text, and the content item it carries."""
    payload: dict[str, object] = {"text": text, "to": "member"}
    if item is not None:
        payload["content"] = item.payload()
    return payload


@action(
    "action.broadcast",
    message=_broadcast_message,
    title={"zh": "群发", "en": "Broadcast"},
    description={
        "zh": "给人群中每位成员私聊，或在指定的每个群里发消息；遵守免打扰与频次上限（延后，不丢弃）；"
        "私聊计入社群触达预算",
        "en": "Message every member of an audience, or post in each of its groups; quiet hours and the "
        "frequency cap defer, never drop; private messages count towards the touch budget",
    },
    icon="radio",
)
def broadcast(ctx: Context, config: Broadcast) -> Outcome:
    held = quiet_until(ctx)
    if held is not None:
        return WaitUntil(held)
    item = content_item(ctx, config.content)
    if isinstance(item, Fail):
        return item
    text = item.text if item is not None else config.text
    if config.to == "group":
        for group in config.audience.groups or ():
            payload = message_payload(ctx, config.text, item, "group", group)
            ctx.deliver("message", payload, key=group)
        return NEXT
    turn = budget_turn(ctx)
    if turn is not None:
        return WaitUntil(turn)
    # The audience is walked a page at a time, each page in a transaction of its own (the run waits
    # until now between pages), so a million members are never held at once. Where the walk is goes
    # in the run's vars; a page stepped again after a crash makes the same delivery keys, so no
    # member gets two messages. Recipients over the frequency cap (or the touch budget, when the flow
    # waits for it) wait in the vars with their rendered message and are sent, once the walk is
    # done, when there is room; over the budget of a flow that skips, they are skipped.
    walk_key, held_key = f"_broadcast.{ctx.node_id}.after", f"_broadcast.{ctx.node_id}"
    held: dict[str, str] = ctx.vars.get(held_key) or {}
    if walk_key in ctx.vars or held_key not in ctx.vars:  # the walk is not done yet
        page, after = ctx.audience_page(config.audience, ctx.vars.get(walk_key, ""), AUDIENCE_PAGE)
        recipients = {m.id: ctx.render_for(m, text) if text is not None else "" for m in page}
        if after is not None:
            held.update(_send(ctx, recipients, item)[0])
            ctx.set_var(walk_key, after)
            ctx.set_var(held_key, held)
            return WaitUntil(ctx.now)
        ctx.vars.pop(walk_key, None)
        held.update(recipients)  # the last page, and those held on earlier pages if the cap now allows
    held, until = _send(ctx, held, item)
    if until is None:
        ctx.vars.pop(held_key, None)
        return NEXT
    ctx.set_var(held_key, held)
    return WaitUntil(until)


# Members of a broadcast's audience read and sent per transaction.
AUDIENCE_PAGE = 2000


def _send(
    ctx: Context, recipients: dict[str, str], item: ContentItem | None
) -> tuple[dict[str, str], datetime | None]:
    """Send each recipient its rendered message, in id order, unless the frequency cap or the touch
    budget holds it (or, over the budget of a flow that skips, skip it); returns those held, and when
    the first of them may be sent (None when none is held)."""
    ids = sorted(recipients)
    capped = capped_until(ctx, ids)
    full = over_budget(ctx, [m for m in ids if m not in capped])
    skips = ctx.settings.over_budget == "skip"
    held: dict[str, str] = {}
    for member_id in ids:
        if member_id in capped or (member_id in full and not skips):
            held[member_id] = recipients[member_id]
            continue
        payload = _to_member(recipients[member_id], item)
        if member_id in full:
            ctx.skip_delivery("message", payload, BUDGET, member=member_id, key=member_id)
        else:
            ctx.deliver("message", payload, member=member_id, key=member_id)
    waits = {**capped, **({} if skips else full)}
    if not skips and any(m in full for m in held):
        ctx.set_var(WAIT_REASON, BUDGET)
    elif WAIT_REASON in ctx.vars:
        del ctx.vars[WAIT_REASON]
    return held, min(waits.values(), default=None)


class RemoveFromGroup(Config):
    # Default: the group of the event that started the run (the group where the spam was posted).
    group: Name | None = None
    blacklist: bool = False


@action(
    "action.remove_from_group",
    title={"zh": "移出群聊", "en": "Remove from group"},
    description={
        "zh": "把成员移出群（默认是触发事件所在的群），可同时拉黑：拉黑后不再邀请入群、不再加好友",
        "en": "Remove the member from a group (default: the event's group); with blacklist they are never "
        "invited or friend-requested again",
    },
    icon="user-x",
)
def remove_from_group(ctx: Context, config: RemoveFromGroup) -> Outcome:
    if ctx.member is None:
        return Fail("this run has no member to remove")
    group = config.group or (ctx.event or {}).get("group")
    if group is None:
        return Fail("no group: set `group`, or start the flow from an event in a group")
    ctx.deliver("remove", {"group": group, "blacklist": config.blacklist})
    ctx.leave_group(group)
    if config.blacklist:
        ctx.blacklist()
    return NEXT


class AddFriend(Config):
    # The staff accounts to send from, in order: the first under its daily limit sends.
    staff: Annotated[Names, Meta(min_length=1)]
    # For staff accounts without a `daily_friend_limit` of their own (DESIGN §15).
    daily_limit: Annotated[int, Meta(ge=1, le=500)] = 20


@action(
    "action.add_friend",
    ports=("next", "blocked"),
    title={"zh": "添加好友", "en": "Add friend"},
    description={
        "zh": "由员工号池中第一个未达当日上限的账号发好友申请；"
        "全部满额则次日（静默时段结束后）再试；黑名单走「拦截」",
        "en": "Send a friend request from the first staff account under its daily limit; when all are full, "
        "try again the next day (after the flow's quiet hours); blacklisted members go to `blocked`",
    },
    icon="user-plus",
)
def add_friend(ctx: Context, config: AddFriend) -> Outcome:
    member = ctx.member
    if member is None:
        return Fail("this run has no member to befriend")
    if member.blacklisted:
        return Go("blocked")
    today = ctx.local_now.date()
    # Counted per staff account per calendar day in the flow's timezone, over every flow.
    sent = Counter(
        p.get("staff")
        for _, p in ctx.recent_deliveries("friend_request", local_moment(today, MIDNIGHT, ctx.tz))
    )
    for staff in config.staff:
        if sent[staff] < ctx.staff_limit(staff, config.daily_limit):
            ctx.deliver("friend_request", {"staff": staff})
            return NEXT
    # Every account is at its limit: try again when the next local day begins, but not inside the
    # flow's quiet hours (a staff phone should not ring at midnight): then when they end.
    return WaitUntil(outside_quiet_hours(ctx, local_moment(today + timedelta(days=1), MIDNIGHT, ctx.tz)))


class AssignTask(Config):
    title: Template
    staff: Name | None = None
    # How long the staff member has; with `wait`, the run leaves by `overdue` then.
    due: Positive | None = None
    wait: bool = False

    def __post_init__(self) -> None:
        if self.due is not None and self.due <= timedelta(0):
            raise ValueError("`due` must be a positive duration")


def _task_ports(config: AssignTask | None) -> list[str]:
    if config is None or not config.wait:
        return ["next"]
    return ["done", "skipped"] + (["overdue"] if config.due is not None else [])


@action(
    "action.assign_task",
    ports=_task_ports,
    title={"zh": "成员任务", "en": "Staff task"},
    description={
        "zh": "给员工派一个跟进任务（如电话回访）；等待结果时按「完成 / 跳过 / 逾期」分支",
        "en": "Give staff a follow-up task (e.g. a call); when waiting, branch on done / skipped / overdue",
    },
    icon="clipboard",
)
def assign_task(ctx: Context, config: AssignTask) -> Outcome:
    due = ctx.entered_at + config.due if config.due is not None else None
    woke = ctx.wake_event
    if woke is None and (due is None or ctx.now < due):
        payload: dict[str, object] = {"title": ctx.render(config.title)}
        if config.staff is not None:
            payload["staff"] = config.staff
        if due is not None:
            payload["due"] = due.astimezone(ctx.tz).isoformat()
        ctx.deliver("task", payload)  # keyed by run and node: a second call is not a second task
    if not config.wait:
        return NEXT
    if woke is not None and woke["type"] == "task_completed":
        data = woke.get("data") or {}
        if data.get("flow") == ctx.flow_id and data.get("node") == ctx.node_id:
            return Go("skipped" if data.get("outcome") == "skipped" else "done")
    if due is not None and ctx.now >= due:
        return Go("overdue")
    return WaitFor("task_completed", until=due)
