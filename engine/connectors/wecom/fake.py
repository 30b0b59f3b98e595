"""A local fake WeCom: a test double of the *remote side only*, an HTTP server on loopback that answers
the server API calls qunflow makes as WeCom's documents describe them (document path numbers below),
for tests and for `qunflow serve --demo`. Nothing of qunflow is imported here but the callback crypto
(the fake seals callbacks as WeCom does).

Besides the HTTP API it has a Python API for tests (never reachable over HTTP): add staff, customers
and groups; simulate a customer adding a staff member (an encrypted callback POSTed to a URL, with a
welcome code); simulate the staff member's tap that sends a mass-send task (per-recipient outcomes
optional); make the next calls of an API answer an error code; and read every call made, with its
body (:attr:`FakeWecom.calls`).

Rules it enforces, as WeCom does: an access token is needed and checked (40014 unknown, 42001
expired, 41001 missing); a welcome code works once and only within 20 s of being issued (41051); a
customer receives at most `quota` mass sends per period (status 3 at the staff tap); a recipient who
is no longer the sender's customer gets status 2; `remind_groupmsg_send` at most 3 times per task in
24 h; app messages with `enable_duplicate_check` are not repeated within the interval. Time is the
`clock` it is given (seconds since the epoch), so tests skip time instead of sleeping.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx

WELCOME_WINDOW = 20.0  # seconds a welcome code can be used (path 92137)
TOKEN_TTL = 7200
REMINDS_PER_DAY = 3  # remind_groupmsg_send per task per 24 h (path 97610)
SHANGHAI = ZoneInfo("Asia/Shanghai")
# WeCom documents the reminder limit but not the code it answers past it; the fake says 45009
# (接口调用超过限制), the code for calls over a limit.
REMIND_LIMIT = 45009


@dataclass
class Call:
    """One HTTP call the fake answered: the API path under /cgi-bin/, the query (token masked) and the
    JSON body, and the errcode it answered."""

    api: str
    query: dict[str, str]
    body: dict[str, Any]
    errcode: int = 0


@dataclass
class Task:
    """A mass send (`add_msg_template`, path 92135) awaiting its sender's tap."""

    msgid: str
    chat_type: str
    sender: str
    recipients: list[str]
    text: dict[str, Any]
    attachments: list[Any]
    create_time: int
    sent_at: int | None = None
    results: dict[str, int] = field(default_factory=dict)  # recipient → 0 unsent, 1 sent, 2, 3
    reminds: list[float] = field(default_factory=list)


class WecomError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


class FakeWecom:
    """A fake WeCom corp with one self-built app. Start it with :meth:`start` (or as a context
    manager); its address is :attr:`url`."""

    def __init__(
        self,
        corp_id: str = "wwfake0000000001",
        secret: str = "fake-app-secret",
        *,
        agent_id: int = 1000002,
        quota: int = 1,
        quota_per: str = "day",
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        self.quota = quota
        self.quota_per = quota_per
        self.clock = clock
        self.trusted_ips: set[str] | None = None  # None: every IP is trusted
        self.calls: list[Call] = []
        self.staff: dict[str, str] = {}
        self.customers: dict[str, dict[str, Any]] = {}  # id → {name, follow: {staff: {tags, state}}}
        self.groups: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, Task] = {}
        self.welcomes: list[dict[str, Any]] = []  # welcome messages sent
        self.app_messages: list[dict[str, Any]] = []
        self.tag_groups: list[dict[str, Any]] = []
        self.join_ways: dict[str, dict[str, Any]] = {}
        self.contact_ways: dict[str, dict[str, Any]] = {}
        self._codes: dict[str, dict[str, Any]] = {}
        self._tokens: dict[str, float] = {}
        self._received: dict[str, list[float]] = {}  # customer → when each mass send reached them
        self._failures: dict[str, list[tuple[int, str]]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._server = _Server((host, port), _handler(self))
        self._thread: threading.Thread | None = None

    # -- running -------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeWecom:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-wecom", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeWecom:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls (Python only) -----------------------------------------------------------------

    def add_staff(self, userid: str, name: str | None = None) -> None:
        with self._lock:
            self.staff[userid] = name or userid

    def add_customer(
        self, external_userid: str, staff: str, name: str | None = None, state: str | None = None
    ) -> None:
        """`external_userid` becomes a customer (friend) of `staff`."""
        with self._lock:
            self.staff.setdefault(staff, staff)
            customer = self.customers.setdefault(
                external_userid, {"name": name or external_userid, "follow": {}}
            )
            customer["follow"].setdefault(
                staff, {"tags": set(), "state": state, "createtime": int(self.clock())}
            )

    def drop_contact(self, external_userid: str, staff: str) -> None:
        """The customer deletes `staff`: later mass sends from `staff` to them fail (status 2)."""
        with self._lock:
            self.customers.get(external_userid, {}).get("follow", {}).pop(staff, None)

    def add_group(
        self, chat_id: str, owner: str, name: str | None = None, members: Iterable[str] = ()
    ) -> None:
        with self._lock:
            self.staff.setdefault(owner, owner)
            self.groups[chat_id] = {"name": name or chat_id, "owner": owner, "members": list(members)}

    def issue_welcome_code(self, external_userid: str, staff: str) -> str:
        """A welcome code, as WeCom puts in an add callback; valid for 20 s from now, once."""
        code = "WELCOME-" + secrets.token_hex(8)
        with self._lock:
            self._codes[code] = {
                "customer": external_userid,
                "staff": staff,
                "at": self.clock(),
                "used": False,
            }
        return code

    def add_contact(
        self,
        external_userid: str,
        staff: str,
        *,
        callback_url: str,
        token: str,
        encoding_aes_key: str,
        state: str | None = None,
        half: bool = False,
        name: str | None = None,
    ) -> tuple[str, int]:
        """A customer adds `staff` (through a channel code whose `state` is given): the customer is
        made, a welcome code issued, and the `add_external_contact` callback (event path 92130)
        POSTed to `callback_url` sealed as WeCom seals it. Returns the code and the HTTP status."""
        self.add_customer(external_userid, staff, name, state)
        code = self.issue_welcome_code(external_userid, staff)
        change = "add_half_external_contact" if half else "add_external_contact"
        xml = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            "<FromUserName><![CDATA[sys]]></FromUserName>"
            f"<CreateTime>{int(self.clock())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            "<Event><![CDATA[change_external_contact]]></Event>"
            f"<ChangeType><![CDATA[{change}]]></ChangeType><UserID><![CDATA[{staff}]]></UserID>"
            f"<ExternalUserID><![CDATA[{external_userid}]]></ExternalUserID>"
            + (f"<State><![CDATA[{state}]]></State>" if state else "")
            + f"<WelcomeCode><![CDATA[{code}]]></WelcomeCode></xml>"
        )
        return code, self.post_callback(callback_url, xml, token, encoding_aes_key)

    def post_callback(self, callback_url: str, xml: str, token: str, encoding_aes_key: str) -> int:
        """POST one event `xml` to `callback_url`, encrypted and signed (path 90968); the status."""
        from .crypto import CallbackCrypto

        crypto = CallbackCrypto(token, encoding_aes_key, self.corp_id)
        timestamp, nonce = str(int(self.clock())), secrets.token_hex(5)
        encrypted = crypto.seal(xml)
        # As WeCom posts it: the envelope holds the ciphertext, the query string the signature.
        body = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<AgentID><![CDATA[{self.agent_id}]]></AgentID></xml>"
        )
        params = {
            "msg_signature": crypto.sign(timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
        }
        return httpx.post(callback_url, params=params, content=body.encode(), timeout=10).status_code

    def confirm_task(self, msgid: str, outcomes: Mapping[str, int] | None = None) -> dict[str, int]:
        """The sender taps 发送: each recipient gets status 1 (sent), 2 (not the sender's customer)
        or 3 (already at the quota), unless `outcomes` says otherwise. Returns the statuses."""
        with self._lock:
            task = self.tasks[msgid]
            now = self.clock()
            task.sent_at = int(now)
            for recipient in task.recipients:
                status = (outcomes or {}).get(recipient)
                if status is None:
                    status = self._outcome(task, recipient, now)
                task.results[recipient] = status
                if status == 1 and task.chat_type == "single":
                    self._received.setdefault(recipient, []).append(now)
            return dict(task.results)

    def fail_next(self, api: str, errcode: int, errmsg: str | None = None, times: int = 1) -> None:
        """The next `times` calls of `api` (e.g. `externalcontact/add_msg_template`) answer `errcode`."""
        with self._lock:
            self._failures.setdefault(api, []).extend([(errcode, errmsg or f"fake error {errcode}")] * times)

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now (the next call with one answers 42001)."""
        with self._lock:
            self._tokens = dict.fromkeys(self._tokens, 0.0)

    def calls_to(self, api: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.api == api]

    # -- the HTTP API --------------------------------------------------------------------------------

    def answer(self, method: str, api: str, query: dict[str, str], body: dict[str, Any], ip: str) -> dict:
        """WeCom's JSON answer to one call (the request handler's work)."""
        shown = {k: ("***" if k in ("access_token", "corpsecret") else v) for k, v in query.items()}
        call = Call(api, shown, body)
        with self._lock:
            self.calls.append(call)
        try:
            with self._lock:
                injected = self._failures.get(api)
                if injected:
                    raise WecomError(*injected.pop(0))
            if api == "gettoken":
                answer = self._gettoken(query)
            else:
                self._check_token(query.get("access_token"))
                if self.trusted_ips is not None and ip not in self.trusted_ips:
                    raise WecomError(
                        60020,
                        f"not allow to access from your ip, hint: [{secrets.token_hex(4)}], from ip: {ip}",
                    )
                handler = _APIS.get(api)
                if handler is None:
                    raise WecomError(404, f"the fake does not implement {api}")
                with self._lock:
                    answer = handler(self, query, body)
        except WecomError as error:
            call.errcode = error.errcode
            return {"errcode": error.errcode, "errmsg": error.errmsg}
        return {"errcode": 0, "errmsg": "ok", **answer}

    def _gettoken(self, query: dict[str, str]) -> dict:
        # 获取access_token (path 91039)
        if query.get("corpid") != self.corp_id:
            raise WecomError(40013, "invalid corpid")
        if query.get("corpsecret") != self.secret:
            raise WecomError(40001, "invalid credential")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = self.clock() + TOKEN_TTL
        return {"access_token": token, "expires_in": TOKEN_TTL}

    def _check_token(self, token: str | None) -> None:
        if not token:
            raise WecomError(41001, "access_token missing")
        with self._lock:
            until = self._tokens.get(token)
        if until is None:
            raise WecomError(40014, "invalid access_token")
        if self.clock() >= until:
            raise WecomError(42001, "access_token expired")

    # -- calls, one method each (run under the lock) -------------------------------------------------

    def _send_welcome_msg(self, query: dict, body: dict) -> dict:
        # 发送新客户欢迎语 (path 92137)
        code = self._codes.get(str(body.get("welcome_code")))
        if code is None or code["used"] or self.clock() - code["at"] > WELCOME_WINDOW:
            raise WecomError(41051, "externaluser has started chatting")
        code["used"] = True
        self.welcomes.append({"customer": code["customer"], "staff": code["staff"], **body})
        return {}

    def _add_msg_template(self, query: dict, body: dict) -> dict:
        # 创建企业群发 (path 92135)
        chat_type = body.get("chat_type") or "single"
        sender = body.get("sender")
        if chat_type == "group" and not sender:
            raise WecomError(40003, "invalid userid: sender is required for group sends")
        recipients = list(body.get("external_userid" if chat_type == "single" else "chat_id_list") or [])
        if not recipients and not sender:
            raise WecomError(41065, "invalid external_userid list")
        msgid = f"msg{next(self._ids):06d}{secrets.token_hex(4)}"
        self.tasks[msgid] = Task(
            msgid,
            chat_type,
            str(sender),
            list(dict.fromkeys(recipients)),
            dict(body.get("text") or {}),
            list(body.get("attachments") or []),
            int(self.clock()),
        )
        return {"fail_list": [], "msgid": msgid}

    def _get_groupmsg_list_v2(self, query: dict, body: dict) -> dict:
        # 获取群发记录列表 (path 93338)
        start, end = int(body.get("start_time", 0)), int(body.get("end_time", 2**62))
        found = [
            {
                "msgid": t.msgid,
                "creator": t.sender,
                "create_type": 0,
                "text": t.text,
                "attachments": t.attachments,
                "create_time": t.create_time,
            }
            for t in self.tasks.values()
            if t.chat_type == body.get("chat_type", "single")
            and start <= t.create_time <= end
            and body.get("creator") in (None, t.sender)
        ]
        return {"next_cursor": "", "group_msg_list": found}

    def _get_groupmsg_task(self, query: dict, body: dict) -> dict:
        # 获取群发成员发送任务列表 (path 93338): status 0 not sent, 2 sent
        task = self._task(body)
        status = 2 if task.sent_at is not None else 0
        entry = {"userid": task.sender, "status": status}
        if task.sent_at is not None:
            entry["send_time"] = task.sent_at
        return {"next_cursor": "", "task_list": [entry]}

    def _get_groupmsg_send_result(self, query: dict, body: dict) -> dict:
        # 获取企业群发成员执行结果 (path 93338): 0 unsent, 1 sent, 2 not a friend, 3 over quota
        task = self._task(body)
        if body.get("userid") != task.sender:
            return {"next_cursor": "", "send_list": []}
        key = "external_userid" if task.chat_type == "single" else "chat_id"
        found = []
        for recipient in task.recipients:
            entry: dict[str, Any] = {key: recipient, "userid": task.sender}
            entry["status"] = task.results.get(recipient, 0)
            if entry["status"] == 1:
                entry["send_time"] = task.sent_at
            found.append(entry)
        return {"next_cursor": "", "send_list": found}

    def _remind_groupmsg_send(self, query: dict, body: dict) -> dict:
        # 提醒成员群发 (path 97610): at most 3 per task in 24 h
        task = self._task(body)
        now = self.clock()
        recent = [at for at in task.reminds if now - at < 86400]
        if len(recent) >= REMINDS_PER_DAY:
            raise WecomError(REMIND_LIMIT, "remind limit reached for this msgid in 24 hours")
        task.reminds.append(now)
        return {}

    def _get_corp_tag_list(self, query: dict, body: dict) -> dict:
        # 获取企业标签库 (path 92117)
        return {"tag_group": self.tag_groups}

    def _add_corp_tag(self, query: dict, body: dict) -> dict:
        # 添加企业客户标签 (path 92117): a name already in the group → 40071
        group = next(
            (
                g
                for g in self.tag_groups
                if g["group_id"] == body.get("group_id") or g["group_name"] == body.get("group_name")
            ),
            None,
        )
        if group is None:
            group = {
                "group_id": f"et{next(self._ids):06d}",
                "group_name": body.get("group_name") or "qunflow",
                "create_time": int(self.clock()),
                "order": 0,
                "deleted": False,
                "tag": [],
            }
            self.tag_groups.append(group)
        made = []
        for tag in body.get("tag") or []:
            if any(t["name"] == tag["name"] for t in group["tag"]):
                raise WecomError(40071, "UserTag Name Already Exist")
            entry = {"id": f"et{next(self._ids):06d}", "name": tag["name"], "create_time": int(self.clock())}
            entry.update(order=0, deleted=False)
            group["tag"].append(entry)
            made.append(entry)
        return {"tag_group": {**{k: v for k, v in group.items() if k != "tag"}, "tag": made}}

    def _mark_tag(self, query: dict, body: dict) -> dict:
        # 编辑客户企业标签 (path 92118)
        known = {t["id"] for g in self.tag_groups for t in g["tag"]}
        wanted = [*body.get("add_tag", []), *body.get("remove_tag", [])]
        if any(tag not in known for tag in wanted):
            raise WecomError(40068, "invalid tagid")
        follow = self.customers.get(str(body.get("external_userid")), {}).get("follow", {})
        if body.get("userid") not in follow:
            raise WecomError(84061, "not external contact")
        tags = follow[body["userid"]]["tags"]
        tags.update(body.get("add_tag", []))
        tags.difference_update(body.get("remove_tag", []))
        return {}

    def _message_send(self, query: dict, body: dict) -> dict:
        # 发送应用消息 (path 90236), with its duplicate check
        if body.get("agentid") != self.agent_id:
            raise WecomError(40056, "invalid agentid")
        content = {
            k: v for k, v in body.items() if k not in ("enable_duplicate_check", "duplicate_check_interval")
        }
        now = self.clock()
        if body.get("enable_duplicate_check"):
            interval = int(body.get("duplicate_check_interval") or 1800)
            if any(m["content"] == content and now - m["at"] < interval for m in self.app_messages):
                return {"invaliduser": "", "msgid": "duplicate"}
        self.app_messages.append({"content": content, "at": now, **content})
        return {"invaliduser": "", "msgid": f"app{next(self._ids)}"}

    def _add_join_way(self, query: dict, body: dict) -> dict:
        # 配置客户群进群方式 (path 92229)
        chats = list(body.get("chat_id_list") or [])
        if not chats or any(c not in self.groups for c in chats):
            raise WecomError(40050, "invalid chatid")
        config_id = secrets.token_hex(8)
        qr = f"https://wecom.fake/join/{config_id}"
        self.join_ways[config_id] = {"config_id": config_id, "qr_code": qr, **body}
        return {"config_id": config_id}

    def _get_join_way(self, query: dict, body: dict) -> dict:
        way = self.join_ways.get(str(body.get("config_id")))
        if way is None:
            raise WecomError(41044, "invalid config_id")
        return {"join_way": way}

    def _add_contact_way(self, query: dict, body: dict) -> dict:
        # 配置客户联系「联系我」方式 (path 92228)
        config_id = secrets.token_hex(8)
        qr = f"https://wecom.fake/contact/{config_id}"
        self.contact_ways[config_id] = {"config_id": config_id, "qr_code": qr, **body}
        return {"config_id": config_id, "qr_code": qr}

    def _external_list(self, query: dict, body: dict) -> dict:
        # 获取客户列表 (path 92113)
        staff = query.get("userid")
        return {"external_userid": [c for c, v in self.customers.items() if staff in v["follow"]]}

    def _batch_get_by_user(self, query: dict, body: dict) -> dict:
        # 批量获取客户详情 (path 92994)
        found = []
        for staff in body.get("userid_list") or []:
            for customer_id, customer in self.customers.items():
                follow = customer["follow"].get(staff)
                if follow is not None:
                    found.append(
                        {
                            "external_contact": {
                                "external_userid": customer_id,
                                "name": customer["name"],
                                "type": 1,
                            },
                            "follow_info": {
                                "userid": staff,
                                "createtime": follow["createtime"],
                                "tag_id": sorted(follow["tags"]),
                                "state": follow["state"] or "",
                            },
                        }
                    )
        return {"external_contact_list": found, "next_cursor": ""}

    def _external_get(self, query: dict, body: dict) -> dict:
        # 获取客户详情 (path 92114)
        customer_id = query.get("external_userid", "")
        customer = self.customers.get(customer_id)
        if customer is None:
            raise WecomError(84061, "not external contact")
        names = {t["id"]: (g["group_name"], t["name"]) for g in self.tag_groups for t in g["tag"]}
        follow_user = [
            {
                "userid": staff,
                "createtime": f["createtime"],
                "state": f["state"] or "",
                "tags": [
                    {"group_name": names[t][0], "tag_name": names[t][1], "tag_id": t, "type": 1}
                    for t in sorted(f["tags"])
                    if t in names
                ],
            }
            for staff, f in customer["follow"].items()
        ]
        contact = {"external_userid": customer_id, "name": customer["name"], "type": 1}
        return {"external_contact": contact, "follow_user": follow_user}

    def _groupchat_list(self, query: dict, body: dict) -> dict:
        # 获取客户群列表 (path 92120)
        return {"group_chat_list": [{"chat_id": c, "status": 0} for c in self.groups], "next_cursor": ""}

    def _groupchat_get(self, query: dict, body: dict) -> dict:
        # 获取客户群详情 (path 92122)
        chat_id = str(body.get("chat_id"))
        group = self.groups.get(chat_id)
        if group is None:
            raise WecomError(40050, "invalid chatid")
        members = [{"userid": group["owner"], "type": 1, "join_time": 0, "join_scene": 1}]
        members += [{"userid": m, "type": 2, "join_time": 0, "join_scene": 3} for m in group["members"]]
        chat = {"chat_id": chat_id, "name": group["name"], "owner": group["owner"], "create_time": 0}
        return {"group_chat": {**chat, "member_list": members, "admin_list": []}}

    def _user_list_id(self, query: dict, body: dict) -> dict:
        # 获取成员ID列表 (path 96067)
        return {"next_cursor": "", "dept_user": [{"userid": u, "department": 1} for u in self.staff]}

    def _user_simplelist(self, query: dict, body: dict) -> dict:
        # 获取部门成员 (path 90200)
        return {"userlist": [{"userid": u, "name": n, "department": [1]} for u, n in self.staff.items()]}

    # -- helpers -------------------------------------------------------------------------------------

    def _task(self, body: dict) -> Task:
        task = self.tasks.get(str(body.get("msgid")))
        if task is None:
            raise WecomError(41063, "invalid msgid")
        return task

    def _outcome(self, task: Task, recipient: str, now: float) -> int:
        if task.chat_type == "group":
            return 1 if recipient in self.groups else 2
        if task.sender not in self.customers.get(recipient, {}).get("follow", {task.sender: None}):
            return 2
        period = _period(now, self.quota_per)
        received = [at for at in self._received.get(recipient, []) if _period(at, self.quota_per) == period]
        return 3 if len(received) >= self.quota else 1


def _period(at: float, per: str) -> tuple[int, ...]:
    local = datetime.fromtimestamp(at, SHANGHAI)
    if per == "month":
        return (local.year, local.month)
    if per == "week":
        return tuple(local.isocalendar()[:2])
    return (local.year, local.month, local.day)


_APIS: dict[str, Callable[[FakeWecom, dict, dict], dict]] = {
    "externalcontact/send_welcome_msg": FakeWecom._send_welcome_msg,
    "externalcontact/add_msg_template": FakeWecom._add_msg_template,
    "externalcontact/get_groupmsg_list_v2": FakeWecom._get_groupmsg_list_v2,
    "externalcontact/get_groupmsg_task": FakeWecom._get_groupmsg_task,
    "externalcontact/get_groupmsg_send_result": FakeWecom._get_groupmsg_send_result,
    "externalcontact/remind_groupmsg_send": FakeWecom._remind_groupmsg_send,
    "externalcontact/get_corp_tag_list": FakeWecom._get_corp_tag_list,
    "externalcontact/add_corp_tag": FakeWecom._add_corp_tag,
    "externalcontact/mark_tag": FakeWecom._mark_tag,
    "message/send": FakeWecom._message_send,
    "externalcontact/groupchat/add_join_way": FakeWecom._add_join_way,
    "externalcontact/groupchat/get_join_way": FakeWecom._get_join_way,
    "externalcontact/add_contact_way": FakeWecom._add_contact_way,
    "externalcontact/list": FakeWecom._external_list,
    "externalcontact/batch/get_by_user": FakeWecom._batch_get_by_user,
    "externalcontact/get": FakeWecom._external_get,
    "externalcontact/groupchat/list": FakeWecom._groupchat_list,
    "externalcontact/groupchat/get": FakeWecom._groupchat_get,
    "user/list_id": FakeWecom._user_list_id,
    "user/simplelist": FakeWecom._user_simplelist,
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many dispatcher threads connect at once


def _handler(fake: FakeWecom) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                self._json({"errcode": 47001, "errmsg": "data format error"})
                return
            if not parts.path.startswith("/cgi-bin/") or not isinstance(body, dict):
                self._json({"errcode": 47001, "errmsg": "data format error"})
                return
            api = parts.path.removeprefix("/cgi-bin/")
            self._json(fake.answer(method, api, query, body, self.client_address[0]))

        def _json(self, answer: dict) -> None:
            data = json.dumps(answer, ensure_ascii=False).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read fake.calls
            pass

    return Handler


__all__ = ["Call", "FakeWecom", "Task"]
