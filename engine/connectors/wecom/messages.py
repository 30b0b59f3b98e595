"""What a delivery says, in WeCom's message shapes: the text and attachments of a mass send or a
welcome (document path 92135 / 92137), and the text card sent to a staff member (path 90236)."""

from __future__ import annotations

from typing import Any

from ..base import Delivery


def text_of(payload: dict[str, Any]) -> str:
    """The delivery's rendered text (empty when it has none)."""
    text = payload.get("text")
    return text if isinstance(text, str) else ""


def attachments_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The content item's picture or link card as WeCom attachments. Files, videos and mini
    programs need media uploaded to WeCom first (`media_id`), which the connector does not do yet:
    only their text goes."""
    content = payload.get("content")
    if not isinstance(content, dict):
        return []
    kind = content.get("kind")
    media = content.get("media") or {}
    link = content.get("link") or {}
    if kind == "image" and media.get("url"):
        return [{"msgtype": "image", "image": {"pic_url": media["url"]}}]
    if kind == "link" and link.get("url"):
        card = {"title": link.get("title") or content.get("title") or "", "url": link["url"]}
        if link.get("description"):
            card["desc"] = link["description"]
        if link.get("image"):
            card["picurl"] = link["image"]
        return [{"msgtype": "link", "link": card}]
    return []


def invite_attachment(group_name: str, join_link: str) -> dict[str, Any]:
    """The group's join link as a link card."""
    card = {"title": f"加入群聊「{group_name}」", "url": join_link, "desc": "点击链接，扫码加入群聊"}
    return {"msgtype": "link", "link": card}


def staff_card(delivery: Delivery, group_name: str | None) -> tuple[str, str]:
    """The title and description of the text card that tells a staff member what to do."""
    payload = delivery.payload
    member = delivery.member or ""
    if delivery.kind == "task":
        title = str(payload.get("title") or "成员任务")
        due = f"<br>截止：{payload['due']}" if payload.get("due") else ""
        return title, f"客户：{member}{due}<br>完成后请在任务页标记“已完成”或“跳过”。"
    if delivery.kind == "friend_request":
        return "请添加客户为好友", f"客户：{member}<br>添加后请在任务页标记“已完成”。"
    blacklist = "，并拉黑" if payload.get("blacklist") else ""
    where = f"「{group_name}」" if group_name else ""
    return "请将客户移出群聊", f"客户：{member}<br>请将其移出群聊{where}{blacklist}，完成后在任务页标记。"


__all__ = ["attachments_of", "invite_attachment", "staff_card", "text_of"]
