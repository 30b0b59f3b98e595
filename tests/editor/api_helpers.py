"""Helpers for the web app tests: request headers, sample flows and events, the login form."""

from __future__ import annotations

import html
import re
from typing import Any

PASSWORD = "correct horse battery"
ROLES = ("admin", "operator", "viewer", "ingest")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login_csrf(page: str) -> str:
    match = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert match, "the login page has no CSRF field"
    return match.group(1)


def welcome_flow(flow_id: str = "welcome", **extra: Any) -> dict[str, Any]:
    """member joins → tag → wait a day → coupon."""
    return {
        "id": flow_id,
        "name": "欢迎",
        "nodes": [
            {"id": "joined", "type": "trigger.member_joined", "config": {}, "label": "入群"},
            {"id": "tag", "type": "action.add_tag", "config": {"tags": ["new"]}},
            {"id": "wait", "type": "wait.delay", "config": {"duration": "P1D"}},
            {"id": "coupon", "type": "action.send_coupon", "config": {"coupon": "welcome-10"}},
        ],
        "edges": [
            {"from": "joined", "to": "tag"},
            {"from": "tag", "to": "wait"},
            {"from": "wait", "to": "coupon"},
        ],
        **extra,
    }


def joined(event_id: str, member: str, at: str = "2026-11-22T10:00:00+08:00") -> dict[str, Any]:
    return {"id": event_id, "type": "member_joined", "member": member, "group": "g-1", "at": at,
            "profile": {"name": "小林"}}  # fmt: skip


def visible_text(page: str) -> str:
    """What a person reads on a page: no scripts, no tags, entities decoded."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))
