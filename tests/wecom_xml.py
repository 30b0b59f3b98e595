"""WeCom callback messages as WeCom writes them (its callback documentation's shapes), for tests."""

from __future__ import annotations

CORP = "ww5823bf96d3bd56c7"
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CREATED = 1795312800  # 2026-11-22T02:00:00Z, the tests' START


def contact(
    change: str, *, external: str = "wmCustomer01", staff: str = "zhangsan", at: int = CREATED, **extra: str
) -> str:
    fields = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in extra.items())
    return (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{at}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[change_external_contact]]></Event>"
        f"<ChangeType><![CDATA[{change}]]></ChangeType><UserID><![CDATA[{staff}]]></UserID>"
        f"<ExternalUserID><![CDATA[{external}]]></ExternalUserID>{fields}</xml>"
    )


def added(
    external: str = "wmCustomer01", *, state: str = "qr-live", code: str = "WELCOMECODE-1", **kw
) -> str:
    return contact("add_external_contact", external=external, State=state, WelcomeCode=code, **kw)


def chat(change: str, *, chat_id: str = "wrChat01", at: int = CREATED, body: str = "") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{at}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[change_external_chat]]></Event>"
        f"<ChatId><![CDATA[{chat_id}]]></ChatId><ChangeType><![CDATA[{change}]]></ChangeType>{body}</xml>"
    )


def members_items(ids: list[str]) -> str:
    """The current shape: one `<Item>` per member."""
    return "<MemChangeList>" + "".join(f"<Item><![CDATA[{i}]]></Item>" for i in ids) + "</MemChangeList>"


def members_csv(ids: list[str]) -> str:
    """The older shape: one comma-separated text."""
    return f"<MemChangeList><![CDATA[{','.join(ids)}]]></MemChangeList>"


def update(detail: str, members: str, *, scene: int = 1, **kw) -> str:
    scene_tag = "JoinScene" if detail == "add_member" else "QuitScene"
    body = (
        f"<UpdateDetail><![CDATA[{detail}]]></UpdateDetail><{scene_tag}>{scene}</{scene_tag}>"
        f"<MemChangeCnt>2</MemChangeCnt>{members}"
        "<LastMemVer>9c3f97c2ada667dfb5f6d03308d963e1</LastMemVer><CurMemVer>71217227bbd112ecfe3a49c482195cb4</CurMemVer>"
    )
    return chat("update", body=body, **kw)


def tag_change(change: str = "create") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{CREATED}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[change_external_tag]]></Event><Id><![CDATA[etXXX]]></Id>"
        f"<TagType><![CDATA[tag]]></TagType><ChangeType><![CDATA[{change}]]></ChangeType></xml>"
    )
