"""A typed client of WeCom's server API (document path 90664 and the pages cited per call), on `httpx`.

Synchronous: the dispatcher calls connectors from its threads, and one client is shared by them.

- **Access token** (`gettoken`, path 91039): cached until shortly before it expires. Getting one is
  single-flight: however many threads need a token at once, one `gettoken` call is made and the others
  wait for its answer. A call answered 40014 / 42001 gets a new token (once, whoever saw the old one
  rejected first) and is tried again once.
- **Rate limits**: a client-side limiter per API path stays under WeCom's official limits (10,000
  calls a minute and 150,000 an hour per corp per API) with a margin, using `pyrate-limiter`
  (synchronous, blocking acquire). It counts this process's calls only; several processes sharing a
  corp share the margin. A 45009 answer is tried again after a backoff (1 s, 2 s, 4 s by default).
- **Errors** are the typed errors of :mod:`.errors`; network trouble is :class:`Unreachable`.
- **Secrets**: the app secret and the access token travel in query strings, as WeCom requires. They
  are never put in a message or a log line: `httpx`'s request log is filtered to mask them.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import msgspec
from pyrate_limiter import Duration, InMemoryBucket, Limiter, Rate

from .errors import (
    RATE_LIMITED,
    TOKEN_EXPIRED,
    TOKEN_INVALID,
    RateLimited,
    Unreachable,
    WecomError,
    error_for,
)

log = logging.getLogger("qunflow.connectors.wecom")

# Official limits per corp per API, with a 10% margin for clock skew between us and WeCom.
PER_MINUTE = 9_000
PER_HOUR = 135_000
TOKEN_MARGIN = 300.0  # seconds before its stated expiry that a token is replaced
_SECRET_QUERY = re.compile(r"((?:access_token|corpsecret)=)[^&\s'\"]+")


class _MaskSecrets(logging.Filter):
    """Masks the token and secret in `httpx`'s request log lines (they are in the URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(_mask(str(a)) if _SECRET_QUERY.search(str(a)) else a for a in record.args)
        record.msg = _mask(str(record.msg))
        return True


def _mask(text: str) -> str:
    return _SECRET_QUERY.sub(r"\1***", text)


_FILTER = _MaskSecrets()
for _name in ("httpx", "httpcore"):
    if _FILTER not in logging.getLogger(_name).filters:
        logging.getLogger(_name).addFilter(_FILTER)


class PerApiLimiter:
    """One limiter per API path, made when the path is first called. WeCom counts calls per corp:
    every client of one corp (and server) in a process shares one, through :meth:`for_corp`."""

    def __init__(self, rates: Sequence[Rate] | None = None, wait: float = 60.0) -> None:
        self.rates = list(rates or [Rate(PER_MINUTE, Duration.MINUTE), Rate(PER_HOUR, Duration.HOUR)])
        self.wait = wait
        self._limiters: dict[str, Limiter] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_corp(cls, corp_id: str, api_base: str) -> PerApiLimiter:
        """The process's limiter for the corp `corp_id` at `api_base` (made on first use): the
        dispatchers of a process (its worker's and its fast lane's) each open the connector, and
        their calls together must stay under the corp's limits."""
        with _corp_limiters_lock:
            limiter = _corp_limiters.get((corp_id, api_base))
            if limiter is None:
                limiter = _corp_limiters[(corp_id, api_base)] = cls()
            return limiter

    def acquire(self, api: str) -> None:
        """Wait until `api` may be called again; raises RateLimited after `wait` seconds."""
        with self._lock:
            limiter = self._limiters.get(api)
            if limiter is None:
                limiter = self._limiters[api] = Limiter(InMemoryBucket(list(self.rates)))
        if not limiter.try_acquire(api, blocking=True, timeout=self.wait):
            raise RateLimited(RATE_LIMITED, "client-side limit", api)


_corp_limiters: dict[tuple[str, str], PerApiLimiter] = {}
_corp_limiters_lock = threading.Lock()


class WecomClient:
    """Calls WeCom as one self-built app (`corp_id`, `secret`) at `api_base`."""

    def __init__(
        self,
        corp_id: str,
        secret: str,
        api_base: str,
        *,
        timeout: float = 10.0,
        limiter: PerApiLimiter | None = None,
        backoff: Sequence[float] = (1.0, 2.0, 4.0),
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.corp_id = corp_id
        self._secret = secret
        self._http = httpx.Client(base_url=api_base.rstrip("/"), timeout=timeout)
        self.limiter = limiter or PerApiLimiter.for_corp(corp_id, api_base)
        self.backoff = tuple(backoff)
        self._sleep = sleep
        self._token: str | None = None
        self._token_until = 0.0
        self._token_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:  # never the secret or the token
        return f"WecomClient(corp_id={self.corp_id!r}, api_base={str(self._http.base_url)!r})"

    # -- the access token -----------------------------------------------------------------------------

    def token(self) -> str:
        """A valid access token: the cached one, or one new one shared by every waiting thread."""
        token = self._token
        if token is not None and time.monotonic() < self._token_until:
            return token
        with self._token_lock:
            # Another thread may have got one while this one waited for the lock.
            if self._token is not None and time.monotonic() < self._token_until:
                return self._token
            answer = self._request("GET", "gettoken", {"corpid": self.corp_id, "corpsecret": self._secret})
            token = answer.get("access_token")
            if not isinstance(token, str) or not token:
                raise Unreachable("企业微信 gettoken 的回答中没有 access_token (no access_token in answer)")
            expires_in = float(answer.get("expires_in") or 7200)
            self._token = token
            self._token_until = time.monotonic() + max(expires_in - TOKEN_MARGIN, expires_in / 2)
            return token

    def _forget(self, token: str) -> None:
        # Only the token that was rejected: a new one another thread just got stays.
        with self._token_lock:
            if self._token == token:
                self._token = None

    # -- calls ----------------------------------------------------------------------------------------

    def call(
        self,
        api: str,
        body: dict[str, Any] | None = None,
        *,
        method: str = "POST",
        query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Call `api` (a path under `/cgi-bin/`, such as `externalcontact/add_msg_template`) with the
        access token (and `query`, for the GET calls that take one); returns WeCom's answer (errcode
        0) or raises a typed error."""
        renewed = False
        rate_limited = 0
        while True:
            self.limiter.acquire(api)
            token = self.token()
            params = {**(query or {}), "access_token": token}
            try:
                return self._request(method, api, params, body)
            except WecomError as error:
                if error.code in (TOKEN_INVALID, TOKEN_EXPIRED) and not renewed:
                    renewed = True
                    self._forget(token)
                    continue
                if error.code == RATE_LIMITED and rate_limited < len(self.backoff):
                    self._sleep(self.backoff[rate_limited])
                    rate_limited += 1
                    continue
                raise

    def _request(
        self, method: str, api: str, params: dict[str, str], body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        try:
            response = self._http.request(method, f"/cgi-bin/{api}", params=params, json=body)
        except httpx.HTTPError as error:
            # httpx errors may quote the URL, with the token in it: say only what kind it was.
            reached = not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
            message = f"无法连接企业微信 {api}: {type(error).__name__} (WeCom unreachable)"
            raise Unreachable(message, may_have_reached=reached) from None
        if response.status_code != 200:
            raise Unreachable(f"企业微信 {api} 返回 HTTP {response.status_code} (WeCom answered HTTP error)")
        try:
            answer = response.json()
        except ValueError:
            raise Unreachable(f"企业微信 {api} 的回答不是 JSON (WeCom answer is not JSON)") from None
        if not isinstance(answer, dict):
            raise Unreachable(f"企业微信 {api} 的回答不是 JSON 对象 (WeCom answer is not an object)")
        code = answer.get("errcode", 0)
        if code:
            raise error_for(int(code), str(answer.get("errmsg", "")), api)
        return answer


# -- the calls the connector makes, typed --------------------------------------------------------------


class MassSend(msgspec.Struct, frozen=True):
    """What `add_msg_template` made: the task's `msgid`, and the recipients WeCom refused at once
    (`fail_list`: not a customer of the sender, or already at their quota)."""

    msgid: str
    fail_list: list[str] = []


class TaskStatus(msgspec.Struct, frozen=True):
    """A staff member's part of a mass send (`get_groupmsg_task`): status 0 not sent yet, 2 sent."""

    userid: str
    status: int
    send_time: int | None = None


class RecipientStatus(msgspec.Struct, frozen=True):
    """One recipient's result (`get_groupmsg_send_result`): status 0 not sent, 1 sent, 2 not a
    friend of the sender, 3 already at the customer's mass-send quota. `chat_id` for group sends."""

    status: int
    external_userid: str | None = None
    chat_id: str | None = None
    userid: str | None = None
    send_time: int | None = None

    @property
    def recipient(self) -> str:
        return self.chat_id or self.external_userid or ""


class MassSendRecord(msgspec.Struct, frozen=True):
    """A mass send as `get_groupmsg_list_v2` lists it."""

    msgid: str
    creator: str | None = None
    create_time: int | None = None
    text: dict[str, Any] = {}


class WecomApi(WecomClient):
    """The calls qunflow makes, one method each, with the document path they follow."""

    def send_welcome_msg(self, welcome_code: str, text: str, attachments: list[dict] | None = None) -> None:
        """发送新客户欢迎语 (path 92137): within 20 s of the add callback, once."""
        body: dict[str, Any] = {"welcome_code": welcome_code, "text": {"content": text}}
        if attachments:
            body["attachments"] = attachments
        self.call("externalcontact/send_welcome_msg", body)

    def add_msg_template(
        self,
        chat_type: str,
        sender: str,
        text: str,
        *,
        external_userid: Sequence[str] = (),
        chat_id_list: Sequence[str] = (),
        attachments: list[dict] | None = None,
    ) -> MassSend:
        """创建企业群发 (path 92135): a task the sender confirms in the WeCom client."""
        body: dict[str, Any] = {"chat_type": chat_type, "sender": sender, "text": {"content": text}}
        if chat_type == "single":
            body["external_userid"] = list(external_userid)
        else:
            body["chat_id_list"] = list(chat_id_list)
        if attachments:
            body["attachments"] = attachments
        return msgspec.convert(self.call("externalcontact/add_msg_template", body), MassSend)

    def get_groupmsg_task(self, msgid: str) -> list[TaskStatus]:
        """获取群发成员发送任务列表 (path 93338), every page."""
        return [
            msgspec.convert(t, TaskStatus)
            for t in self._pages("externalcontact/get_groupmsg_task", {"msgid": msgid}, "task_list")
        ]

    def get_groupmsg_send_result(self, msgid: str, userid: str) -> list[RecipientStatus]:
        """获取企业群发成员执行结果 (path 93338), every page."""
        body = {"msgid": msgid, "userid": userid}
        return [
            msgspec.convert(r, RecipientStatus)
            for r in self._pages("externalcontact/get_groupmsg_send_result", body, "send_list")
        ]

    def get_groupmsg_list_v2(
        self, chat_type: str, start_time: int, end_time: int, creator: str
    ) -> list[MassSendRecord]:
        """获取群发记录列表 (path 93338): the corp's mass sends made by `creator` in the time range."""
        body = {
            "chat_type": chat_type,
            "start_time": start_time,
            "end_time": end_time,
            "creator": creator,
            "filter_type": 0,  # made by the corp (through the API), not by the staff member
        }
        return [
            msgspec.convert(m, MassSendRecord)
            for m in self._pages("externalcontact/get_groupmsg_list_v2", body, "group_msg_list")
        ]

    def remind_groupmsg_send(self, msgid: str) -> None:
        """提醒成员群发 (path 97610): at most three times per task in 24 hours."""
        self.call("externalcontact/remind_groupmsg_send", {"msgid": msgid})

    def get_corp_tag_list(self) -> dict[str, str]:
        """管理企业标签 (path 92117): every corp tag, name → tag id (the first when groups repeat
        a name)."""
        answer = self.call("externalcontact/get_corp_tag_list", {})
        found: dict[str, str] = {}
        for group in answer.get("tag_group") or []:
            for tag in group.get("tag") or []:
                found.setdefault(str(tag["name"]), str(tag["id"]))
        return found

    def add_corp_tag(self, names: Sequence[str], group_name: str) -> dict[str, str]:
        """Make corp tags in the tag group `group_name` (path 92117); name → new tag id."""
        body = {"group_name": group_name, "tag": [{"name": n} for n in names]}
        answer = self.call("externalcontact/add_corp_tag", body)
        return {str(t["name"]): str(t["id"]) for t in (answer.get("tag_group") or {}).get("tag") or []}

    def mark_tag(
        self, userid: str, external_userid: str, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> None:
        """编辑客户企业标签 (path 92118), by tag ids."""
        body = {
            "userid": userid,
            "external_userid": external_userid,
            "add_tag": list(add),
            "remove_tag": list(remove),
        }
        self.call("externalcontact/mark_tag", body)

    def send_textcard(
        self, agent_id: int, touser: str, title: str, description: str, url: str, btntxt: str = "详情"
    ) -> None:
        """发送应用消息 (path 90236), a text card. WeCom's duplicate check drops the same card to the
        same person within half an hour, so a retried delivery does not show twice."""
        body = {
            "touser": touser,
            "msgtype": "textcard",
            "agentid": agent_id,
            "textcard": {"title": title, "description": description, "url": url, "btntxt": btntxt},
            "enable_duplicate_check": 1,
            "duplicate_check_interval": 1800,
        }
        self.call("message/send", body)

    def send_text(self, agent_id: int, touser: str, content: str) -> None:
        """发送应用消息 (path 90236), plain text to one staff member (a test send to a staff
        account). No duplicate check: a test sent twice on purpose shows twice."""
        body = {"touser": touser, "msgtype": "text", "agentid": agent_id, "text": {"content": content}}
        self.call("message/send", body)

    def add_join_way(self, chat_id: str, state: str | None = None) -> str:
        """客户群「加入群聊」管理 (path 92229): a join QR code for the group; returns its config id."""
        body: dict[str, Any] = {"scene": 2, "chat_id_list": [chat_id]}
        if state:
            body["state"] = state
        return str(self.call("externalcontact/groupchat/add_join_way", body)["config_id"])

    def get_join_way(self, config_id: str) -> dict[str, Any]:
        """The join way's settings, with `qr_code` (path 92229)."""
        return dict(self.call("externalcontact/groupchat/get_join_way", {"config_id": config_id})["join_way"])

    def list_user_ids(self) -> list[str]:
        """获取成员ID列表 (path 96067): the corp's staff user ids, every page."""
        return [str(u["userid"]) for u in self._pages("user/list_id", {}, "dept_user")]

    def staff_names(self) -> dict[str, str]:
        """获取部门成员 (path 90200): each staff user id → name, from the root department down."""
        answer = self.call("user/simplelist", method="GET", query={"department_id": "1", "fetch_child": "1"})
        return {str(u["userid"]): str(u.get("name") or u["userid"]) for u in answer.get("userlist") or []}

    def customers_of(self, userid: str) -> list[str]:
        """获取客户列表 (path 92113): the external user ids of `userid`'s customers."""
        answer = self.call("externalcontact/list", method="GET", query={"userid": userid})
        return [str(c) for c in answer.get("external_userid") or []]

    def customer_details(self, userids: Sequence[str]) -> list[dict[str, Any]]:
        """批量获取客户详情 (path 92994): `{external_contact, follow_info}` for each customer of
        each staff member in `userids` (100 staff a call, every page)."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(userids), 100):
            body = {"userid_list": list(userids[start : start + 100])}
            found += self._pages("externalcontact/batch/get_by_user", body, "external_contact_list", 100)
        return found

    def group_chat_ids(self) -> list[str]:
        """获取客户群列表 (path 92120): every customer group that is not dismissed."""
        chats = self._pages("externalcontact/groupchat/list", {"status_filter": 0}, "group_chat_list")
        return [str(c["chat_id"]) for c in chats]

    def group_chat(self, chat_id: str) -> dict[str, Any]:
        """获取客户群详情 (path 92122): `{chat_id, name, owner, member_list: [{userid, type}]}`
        (type 1 staff, 2 customer)."""
        answer = self.call("externalcontact/groupchat/get", {"chat_id": chat_id, "need_name": 1})
        return dict(answer["group_chat"])

    def corp_tag_names(self) -> dict[str, str]:
        """Every corp tag, tag id → name (path 92117)."""
        answer = self.call("externalcontact/get_corp_tag_list", {})
        return {
            str(tag["id"]): str(tag["name"])
            for group in answer.get("tag_group") or []
            for tag in group.get("tag") or []
        }

    def add_contact_way(self, state: str, staff: Sequence[str]) -> tuple[str, str]:
        """配置客户联系「联系我」方式 (path 92228): a QR code (type 2: several staff, or type 1: one)
        whose adds carry `state`; returns its config id and QR code URL."""
        body = {"type": 1 if len(staff) == 1 else 2, "scene": 2, "state": state, "user": list(staff)}
        answer = self.call("externalcontact/add_contact_way", body)
        return str(answer["config_id"]), str(answer.get("qr_code") or "")

    def _pages(self, api: str, body: dict[str, Any], field: str, limit: int = 1000) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor = ""
        while True:
            page = {**body, "limit": limit, "cursor": cursor} if cursor else {**body, "limit": limit}
            answer = self.call(api, page)
            found.extend(answer.get(field) or [])
            cursor = answer.get("next_cursor") or ""
            if not cursor:
                return found


__all__ = [
    "PER_HOUR",
    "PER_MINUTE",
    "MassSend",
    "MassSendRecord",
    "PerApiLimiter",
    "RecipientStatus",
    "TaskStatus",
    "WecomApi",
    "WecomClient",
]
