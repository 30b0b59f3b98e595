"""The WeCom connector (DESIGN §20): deliveries become calls to WeCom's server API.

| delivery | call | status |
| --- | --- | --- |
| `welcome` | `send_welcome_msg` within the code's 20 s | `sent`; 41051 → `failed`, not retried |
| `message` to a member | `add_msg_template` single, sender = the member's staff | `awaiting_confirmation` |
| `message` to a group | `add_msg_template` group, sender = the group's owner | `awaiting_confirmation` |
| `invite` | the group's join link (made once, kept) as a mass send to the member | `awaiting_confirmation` |
| `tag` | `mark_tag`, names mapped to corp tag ids (missing ones made) | `sent` |
| `task`, `friend_request`, `remove` | an app text card to the staff, linking to `/tasks/{id}` | `sent` |
| `message` to a staff member (`to: staff`, a test send) | an app text message to the staff | `sent` |

Mass sends are batched, counted against the quota and made once per key (:mod:`.mass_send`);
awaited ones are settled by :meth:`WecomConnector.poll` (:mod:`.confirmations`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, ClassVar

import msgspec
from sqlalchemy import select

from ...clock import to_us
from ...event import Profile
from ...store import schema as t
from ..base import MADE_SENT, ConnectorContext, Delivery, DeliveryFailed, Made
from .channel_codes import (
    ContactWay,
    JoinWay,
    check_contact_way,
    contact_way_of,
    join_way_of,
    keep_contact_way,
)
from .client import WecomApi
from .confirmations import Confirmations
from .corp_tags import CorpTags
from .errors import NOT_EXTERNAL_CONTACT, Unreachable, WecomError
from .ledger import Ledger
from .mass_send import MassItem, MassSender
from .messages import attachments_of, invite_attachment, staff_card, text_of
from .options import WecomOptions
from .sync import SyncResult, WecomSync, claim_hourly
from .welcomes import WelcomeSender

log = logging.getLogger("qunflow.connectors.wecom")
SYNC_LOOK = timedelta(minutes=1)  # how often a dispatching process asks whether the hourly sync is due
KINDS = frozenset({"message", "welcome", "invite", "tag", "task", "friend_request", "remove"})
MASS_KINDS = frozenset({"message", "invite"})
STAFF_KINDS = frozenset({"task", "friend_request", "remove"})
OWNED_KINDS = frozenset({*MASS_KINDS, "tag"})  # sent as (or for) the member's owner staff


class WecomConnector:
    """Sends through a self-built app with 客户联系 permission."""

    name: ClassVar[str] = "wecom"
    title: ClassVar[dict[str, str]] = {"zh": "企业微信", "en": "WeCom"}
    kinds: ClassVar[frozenset[str]] = KINDS
    Options: ClassVar[type[msgspec.Struct]] = WecomOptions
    # Mass sends share tasks and welcomes share the ledger's transactions; the rest go one by one.
    batch_kinds: ClassVar[frozenset[str]] = MASS_KINDS | {"welcome"}

    def __init__(self, options: WecomOptions, context: ConnectorContext, api: WecomApi | None = None) -> None:
        self.options = options
        self.store = context.store
        self.clock = context.clock
        self.api = api or WecomApi(options.corp_id, options.secret, options.api_base)
        self.ledger = Ledger(self.store)
        self.mass = MassSender(self.api, self.ledger, options.mass_send_limit)
        self.welcomes = WelcomeSender(self.api, self.ledger, self.clock)
        self.confirmations = Confirmations(self.api, self.ledger, self.store, options.confirm_within)
        self.corp_tags = CorpTags(self.api)
        self.context = context
        self._sync_looked: datetime | None = None
        self._syncing: Future[SyncResult] | None = None
        self._sync_thread: ThreadPoolExecutor | None = None
        self._join_lock = threading.Lock()

    @classmethod
    def open(cls, options: WecomOptions, context: ConnectorContext) -> WecomConnector:
        return cls(options, context)

    @classmethod
    def callback_fetch_profile(cls, options: WecomOptions, external_userid: str) -> Profile | None:
        """The customer's profile for a `member_updated` event (`externalcontact/get`, path 92114):
        their name, as WeCom has it. Tags are left alone (corp tag changes come as their own
        callback); None when WeCom does not know the customer."""
        try:
            answer = shared_api(options).call(
                "externalcontact/get", method="GET", query={"external_userid": external_userid}
            )
        except WecomError as error:
            if error.code == NOT_EXTERNAL_CONTACT:
                return None
            raise
        name = (answer.get("external_contact") or {}).get("name")
        return Profile(name=name) if isinstance(name, str) and name else None

    @classmethod
    def callback_sync_group(
        cls, options: WecomOptions, chat_id: str, context: ConnectorContext | None = None
    ) -> None:
        """After a group's `create` or `update` callback: the group's name, owner and members
        (lost joins and leaves recovered as events)."""
        connector = cls._for_callback(options, context)
        connector.syncer().sync_group(chat_id, connector.clock.now())

    @classmethod
    def callback_sync_tags(cls, options: WecomOptions, context: ConnectorContext | None = None) -> None:
        """After a `change_external_tag` callback: the tag library both ways."""
        cls._for_callback(options, context).syncer().sync_tags()

    @classmethod
    def _for_callback(cls, options: WecomOptions, context: ConnectorContext | None) -> WecomConnector:
        if context is None:
            raise DeliveryFailed("同步需要数据库 (a sync needs the store)", retryable=False)
        return cls(options, context, api=shared_api(options))

    # -- sync -----------------------------------------------------------------------------------------

    def syncer(self) -> WecomSync:
        """The sync of this corp into the connector's store (DESIGN §20)."""
        ingest = self.context.ingest
        if ingest is None:
            from ...engine import Engine  # here, not at the top: the engine imports the connectors

            ingest = Engine(self.store, clock=self.clock).ingest
        return WecomSync(self.api, self.store, ingest, self.corp_tags)

    def sync(self) -> SyncResult:
        """Sync staff, customers, groups and tags now (the CLI, the 同步 button)."""
        return self.syncer().run(self.clock.now())

    def _hourly(self, now: datetime) -> None:
        """Start the hourly sync on a thread of its own when it is due and this process claims it."""
        if self._syncing is not None and not self._syncing.done():
            return
        if self._sync_looked is not None and abs(now - self._sync_looked) < SYNC_LOOK:
            return
        self._sync_looked = now
        if not claim_hourly(self.store, now):
            return
        if self._sync_thread is None:
            self._sync_thread = ThreadPoolExecutor(1, thread_name_prefix="wecom-sync")
        self._syncing = self._sync_thread.submit(self._sync_logged)

    def _sync_logged(self) -> SyncResult:
        try:
            result = self.sync()
        except Exception:  # the next hour tries again
            log.exception("the hourly WeCom sync failed")
            raise
        log.info("hourly WeCom sync: %s", "; ".join(result.lines()))
        return result

    # -- sending --------------------------------------------------------------------------------------

    def send(self, delivery: Delivery) -> Made | None:
        made = self.send_batch([delivery])[0]
        if isinstance(made, DeliveryFailed):
            raise made
        return made

    def send_batch(self, deliveries: Sequence[Delivery]) -> list[Made | None | DeliveryFailed]:
        """Each delivery's outcome, in order; mass sends of one step with the same sender and
        content share one task."""
        results: dict[int, Made | None | DeliveryFailed] = {}
        items: list[tuple[int, MassItem]] = []
        now = self.clock.now()
        owned = [d for d in deliveries if d.kind in OWNED_KINDS and not d.payload.get("staff")]
        members = self._members([d.member for d in owned if d.member])
        groups = self._groups([g for d in deliveries if d.kind != "welcome" and (g := _group_of(d))])
        welcomes = [i for i, d in enumerate(deliveries) if d.kind == "welcome"]
        if welcomes:
            made_welcomes = self.welcomes.send([deliveries[i] for i in welcomes])
            results.update(zip(welcomes, made_welcomes, strict=True))
        for index, delivery in enumerate(deliveries):
            if index in results:
                continue
            try:
                if delivery.kind == "message" and delivery.payload.get("to") == "staff":
                    results[index] = self._staff_message(delivery)
                elif delivery.kind in MASS_KINDS:
                    items.append((index, self._mass_item(delivery, members, groups)))
                else:
                    results[index] = self._send_one(delivery, members, groups)
            except DeliveryFailed as error:
                results[index] = error
        if items:
            made = self.mass.send([item for _, item in items], now)
            for index, item in items:
                results[index] = made[item.delivery.key]
        return [results[i] for i in range(len(deliveries))]

    def _send_one(self, delivery: Delivery, members: dict, groups: dict) -> Made | None:
        if delivery.kind == "tag":
            return self._tag(delivery, members)
        if delivery.kind in STAFF_KINDS:
            return self._staff_card(delivery, groups)
        raise DeliveryFailed(f"企业微信连接器不处理 `{delivery.kind}` 投递 (not handled)", retryable=False)

    def _mass_item(self, delivery: Delivery, members: dict, groups: dict) -> MassItem:
        payload = delivery.payload
        text = text_of(payload)
        attachments = attachments_of(payload)
        if delivery.kind == "invite":
            group = _group_of(delivery) or ""
            name = (groups.get(group) or {}).get("name") or group
            attachments = [invite_attachment(name, self._join_link(group))]
            text = text or f"邀请你加入群聊「{name}」"
        elif payload.get("to") == "group":
            group = _group_of(delivery)
            if not group:
                raise DeliveryFailed("群消息没有指定群 (a group message names no group)", retryable=False)
            owner = (groups.get(group) or {}).get("owner")
            if not owner:
                raise DeliveryFailed(
                    f"群「{group}」没有群主，无法群发 (the group has no owner)", retryable=False
                )
            return MassItem(delivery, "group", owner, group, text, attachments)
        sender = self._owner(delivery, members)
        if not delivery.member:
            raise DeliveryFailed("消息没有接收成员 (no member to send to)", retryable=False)
        if not text and not attachments:
            raise DeliveryFailed("消息没有内容 (the message is empty)", retryable=False)
        return MassItem(delivery, "single", sender, delivery.member, text, attachments)

    def _owner(self, delivery: Delivery, members: dict) -> str:
        staff = delivery.payload.get("staff") or members.get(delivery.member or "")
        if not isinstance(staff, str) or not staff:
            raise DeliveryFailed(
                "成员没有归属员工，无法通过企业微信发送 (the member has no owner staff)", retryable=False
            )
        return staff

    # -- tags -----------------------------------------------------------------------------------------

    def _tag(self, delivery: Delivery, members: dict) -> Made:
        """`tag` payload: `{"add": [names], "remove": [names]}` (or `{"tags": [...]}` to add)."""
        payload = delivery.payload
        add = [str(n) for n in (payload.get("add") or payload.get("tags") or [])]
        remove = [str(n) for n in payload.get("remove") or []]
        staff = self._owner(delivery, members)
        ids = self._tag_ids(add, make_missing=True)
        known = self._tag_ids(remove, make_missing=False)
        self.api.mark_tag(
            staff,
            delivery.member or "",
            [ids[n] for n in add],
            [known[n] for n in remove if n in known],
        )
        return MADE_SENT

    def _tag_ids(self, names: list[str], make_missing: bool) -> dict[str, str]:
        return self.corp_tags.ids(names, make_missing)

    # -- staff cards ----------------------------------------------------------------------------------

    def _staff_card(self, delivery: Delivery, groups: dict) -> Made:
        payload = delivery.payload
        group = _group_of(delivery)
        staff = payload.get("staff")
        if not staff and group:
            staff = (groups.get(group) or {}).get("owner")
        if not isinstance(staff, str) or not staff:
            raise DeliveryFailed("没有可通知的员工 (no staff member to tell)", retryable=False)
        title, description = staff_card(delivery, (groups.get(group) or {}).get("name") if group else None)
        base = (self.options.public_url or "").rstrip("/")
        url = f"{base}/tasks/{delivery.id if delivery.id is not None else delivery.key}"
        self.api.send_textcard(self.options.agent_id, staff, title, description, url)
        return MADE_SENT

    def _staff_message(self, delivery: Delivery) -> Made:
        """A message for a staff member (a test send to a staff account): an app text message."""
        payload = delivery.payload
        staff = payload.get("staff")
        if not isinstance(staff, str) or not staff:
            raise DeliveryFailed("消息没有接收员工 (no staff member to send to)", retryable=False)
        content = payload.get("content")
        title = content.get("title") if isinstance(content, dict) else None
        text = text_of(payload) or (title if isinstance(title, str) else "")
        if not text:
            raise DeliveryFailed("消息没有内容 (the message is empty)", retryable=False)
        self.api.send_text(self.options.agent_id, staff, text)
        return MADE_SENT

    # -- groups' join links ---------------------------------------------------------------------------

    def _join_link(self, group: str) -> str:
        if not group:
            raise DeliveryFailed("邀请没有指定群 (an invite names no group)", retryable=False)
        kept = self.ledger.join_way(group)
        if kept is not None:
            return kept
        with self._join_lock:
            kept = self.ledger.join_way(group)
            if kept is not None:
                return kept
            config_id = self.api.add_join_way(group, state=f"group:{group}"[:30])
            qr_code = str(self.api.get_join_way(config_id).get("qr_code") or "")
            if not qr_code:
                raise Unreachable("企业微信没有返回入群二维码 (no join QR code in WeCom's answer)")
            return self.ledger.keep_join_way(group, config_id, qr_code, to_us(self.clock.now()))

    # -- channel codes --------------------------------------------------------------------------------

    def contact_way(self, channel: str, staff: Sequence[str]) -> ContactWay:
        """The channel's 渠道活码 (`add_contact_way`, `state` = `channel`), made the first time only."""
        kept = contact_way_of(self.store, channel)
        if kept is not None:
            return kept
        chosen = check_contact_way(channel, staff)
        config_id, qr_code = self.api.add_contact_way(channel, chosen)
        if not qr_code:
            raise Unreachable("企业微信没有返回渠道活码 (no QR code in WeCom's answer)")
        way = ContactWay(channel, config_id, qr_code, chosen, to_us(self.clock.now()))
        return keep_contact_way(self.store, way)

    def join_way(self, group: str) -> JoinWay:
        """The group's join code (`groupchat/add_join_way`), made the first time only."""
        self._join_link(group)
        found = join_way_of(self.store, group)
        assert found is not None
        return found

    # -- confirmations and the connection test -------------------------------------------------------

    def poll(self, now: datetime) -> None:
        """Settle mass sends the staff confirmed (or did not in time), remind half-way; start the
        hourly sync when it is due."""
        self.confirmations.poll(now)
        if self.context.periodic:
            self._hourly(now)

    def test(self) -> str:
        """测试连接: get an access token and read the staff list once; what worked, in words.
        Raises the typed error (its message says what to fix) when something does not."""
        self.api.token()
        staff = self.api.list_user_ids()
        count = len(staff)
        return f"连接成功：已获取 access_token，读取到 {count} 名员工 (connection works: {count} staff)"

    def close(self) -> None:
        if self._sync_thread is not None:
            # A sync under way finishes by itself; closing never waits for it.
            self._sync_thread.shutdown(wait=False)
        self.welcomes.close()
        self.api.close()

    # -- reading the store ----------------------------------------------------------------------------

    def _members(self, ids: list[str]) -> dict[str, str | None]:
        """Each member's owner staff (`member.staff`), if the store has the field and the member."""
        if not ids:
            return {}
        with self.store.engine.connect() as conn:
            found = self.store.load_members(conn, ids)
        return {i: getattr(m, "staff", None) for i, m in found.items()}

    def _groups(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        c = t.groups.c
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(c.id, c.name, c.owner).where(c.id.in_(sorted(set(ids))))).all()
        return {r.id: {"name": r.name, "owner": r.owner} for r in rows}


_shared: dict[tuple[str, str, str], WecomApi] = {}
_shared_lock = threading.Lock()


def shared_api(options: WecomOptions) -> WecomApi:
    """One client per app, shared by the class-level calls (callbacks), so they share its token."""
    key = (options.corp_id, options.secret, options.api_base)
    with _shared_lock:
        api = _shared.get(key)
        if api is None:
            api = _shared[key] = WecomApi(options.corp_id, options.secret, options.api_base, timeout=5.0)
        return api


def _group_of(delivery: Delivery) -> str | None:
    group = delivery.payload.get("group")
    return group if isinstance(group, str) and group else None


__all__ = ["KINDS", "WecomConnector"]
