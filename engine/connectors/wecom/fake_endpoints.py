"""The fake WeCom's endpoints (see :mod:`.fake`): one method per server API call, with the document
path it follows, answering as WeCom's documents describe. They run under the fake's lock."""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

WELCOME_WINDOW = 20.0  # seconds a welcome code can be used (path 92137)
REMINDS_PER_DAY = 3  # remind_groupmsg_send per task per 24 h (path 97610)
SHANGHAI = ZoneInfo("Asia/Shanghai")
# WeCom documents the reminder limit but not the code it answers past it; the fake says 45009
# (接口调用超过限制), the code for calls over a limit.
REMIND_LIMIT = 45009


@dataclass
class Call:
    """One HTTP call the fake answered: the API path under /cgi-bin/, the query (token masked) and the
    JSON body, the errcode it answered, and when it arrived (the fake's clock)."""

    api: str
    query: dict[str, str]
    body: dict[str, Any]
    errcode: int = 0
    at: float = 0.0


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


class Refusal(Exception):
    """What the fake answers instead of a result: WeCom's errcode and errmsg."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


class Endpoints:
    """The state the endpoints read and change (kept by :class:`FakeWecom`), and the endpoints."""

    agent_id: int
    quota: int
    quota_per: str
    clock: Callable[[], float]
    staff: dict[str, str]
    customers: dict[str, dict[str, Any]]
    groups: dict[str, dict[str, Any]]
    tasks: dict[str, Task]
    welcomes: list[dict[str, Any]]
    app_messages: list[dict[str, Any]]
    tag_groups: list[dict[str, Any]]
    join_ways: dict[str, dict[str, Any]]
    contact_ways: dict[str, dict[str, Any]]
    _codes: dict[str, dict[str, Any]]
    _received: dict[str, list[float]]
    _ids: itertools.count
    _lock: threading.RLock

    def _send_welcome_msg(self, query: dict, body: dict) -> dict:
        # 发送新客户欢迎语 (path 92137)
        code = self._codes.get(str(body.get("welcome_code")))
        if code is None or code["used"] or self.clock() - code["at"] > WELCOME_WINDOW:
            raise Refusal(41051, "externaluser has started chatting")
        code["used"] = True
        self.welcomes.append({"customer": code["customer"], "staff": code["staff"], **body})
        return {}

    def _add_msg_template(self, query: dict, body: dict) -> dict:
        # 创建企业群发 (path 92135)
        chat_type = body.get("chat_type") or "single"
        sender = body.get("sender")
        if chat_type == "group" and not sender:
            raise Refusal(40003, "invalid userid: sender is required for group sends")
        recipients = list(body.get("external_userid" if chat_type == "single" else "chat_id_list") or [])
        if not recipients and not sender:
            raise Refusal(41065, "invalid external_userid list")
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
            raise Refusal(REMIND_LIMIT, "remind limit reached for this msgid in 24 hours")
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
                raise Refusal(40071, "UserTag Name Already Exist")
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
            raise Refusal(40068, "invalid tagid")
        follow = self.customers.get(str(body.get("external_userid")), {}).get("follow", {})
        if body.get("userid") not in follow:
            raise Refusal(84061, "not external contact")
        tags = follow[body["userid"]]["tags"]
        tags.update(body.get("add_tag", []))
        tags.difference_update(body.get("remove_tag", []))
        return {}

    def _message_send(self, query: dict, body: dict) -> dict:
        # 发送应用消息 (path 90236), with its duplicate check
        if body.get("agentid") != self.agent_id:
            raise Refusal(40056, "invalid agentid")
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
            raise Refusal(40050, "invalid chatid")
        config_id = secrets.token_hex(8)
        qr = f"https://wecom.fake/join/{config_id}"
        self.join_ways[config_id] = {"config_id": config_id, "qr_code": qr, **body}
        return {"config_id": config_id}

    def _get_join_way(self, query: dict, body: dict) -> dict:
        way = self.join_ways.get(str(body.get("config_id")))
        if way is None:
            raise Refusal(41044, "invalid config_id")
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
            raise Refusal(84061, "not external contact")
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
            raise Refusal(40050, "invalid chatid")
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
            raise Refusal(41063, "invalid msgid")
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


APIS: dict[str, Callable[[Endpoints, dict, dict], dict]] = {
    "externalcontact/send_welcome_msg": Endpoints._send_welcome_msg,
    "externalcontact/add_msg_template": Endpoints._add_msg_template,
    "externalcontact/get_groupmsg_list_v2": Endpoints._get_groupmsg_list_v2,
    "externalcontact/get_groupmsg_task": Endpoints._get_groupmsg_task,
    "externalcontact/get_groupmsg_send_result": Endpoints._get_groupmsg_send_result,
    "externalcontact/remind_groupmsg_send": Endpoints._remind_groupmsg_send,
    "externalcontact/get_corp_tag_list": Endpoints._get_corp_tag_list,
    "externalcontact/add_corp_tag": Endpoints._add_corp_tag,
    "externalcontact/mark_tag": Endpoints._mark_tag,
    "message/send": Endpoints._message_send,
    "externalcontact/groupchat/add_join_way": Endpoints._add_join_way,
    "externalcontact/groupchat/get_join_way": Endpoints._get_join_way,
    "externalcontact/add_contact_way": Endpoints._add_contact_way,
    "externalcontact/list": Endpoints._external_list,
    "externalcontact/batch/get_by_user": Endpoints._batch_get_by_user,
    "externalcontact/get": Endpoints._external_get,
    "externalcontact/groupchat/list": Endpoints._groupchat_list,
    "externalcontact/groupchat/get": Endpoints._groupchat_get,
    "user/list_id": Endpoints._user_list_id,
    "user/simplelist": Endpoints._user_simplelist,
}

__all__ = ["APIS", "Call", "Endpoints", "Refusal", "Task"]
