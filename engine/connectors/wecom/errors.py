"""What WeCom answers when a call does not go through, as typed errors (global error codes: document
path 90313). Each is a :class:`DeliveryFailed`, so a connector may let it reach the dispatcher: the
message says what happened (简体中文 first) and `retryable` whether trying again could help.

Messages never carry the access token or the app secret.
"""

from __future__ import annotations

import re

from ..base import DeliveryFailed

TOKEN_INVALID = 40014  # 不合法的access_token
TOKEN_EXPIRED = 42001  # access_token已过期
RATE_LIMITED = 45009  # 接口调用超过限制
IP_NOT_TRUSTED = 60020  # 不安全的访问IP: the server's IP is not among the app's 企业可信IP
WELCOME_CODE_USED = 41051  # externaluser has started chatting: welcome code used, or past its 20 s
WELCOME_BEING_SENT = 41096  # welcome msg is being distributed (another app is sending it)
TAG_NAME_EXISTS = 40071  # 标签名字已经存在 (add_corp_tag of a name the corp already has)
NOT_EXTERNAL_CONTACT = 84061  # 不存在外部联系人的关系 (not a customer of the corp)

_FROM_IP = re.compile(r"from ip:\s*([0-9a-fA-F.:]+)")


class WecomError(DeliveryFailed):
    """WeCom refused the call."""

    retryable = False

    def __init__(self, code: int, errmsg: str, api: str, message: str | None = None) -> None:
        self.code = code
        self.errmsg = errmsg
        self.api = api
        super().__init__(message or f"企业微信 {api} 返回错误 {code}: {errmsg} (WeCom error {code})")


class TokenRejected(WecomError):
    """The access token was refused even after getting a new one (40014 / 42001)."""

    retryable = True


class RateLimited(WecomError):
    """WeCom says the call is over its frequency limit (45009); it was tried again after waiting."""

    retryable = True

    def __init__(self, code: int, errmsg: str, api: str, message: str | None = None) -> None:
        super().__init__(
            code,
            errmsg,
            api,
            message or f"企业微信 {api} 调用超过频率限制 ({code})，稍后重试 (WeCom rate limit, retry later)",
        )


class IpNotTrusted(WecomError):
    """The call came from an IP that is not among the app's trusted IPs (60020). Nothing is sent until
    an admin adds this server's outgoing IP in WeCom's admin console; deliveries wait and retry."""

    retryable = True

    def __init__(self, code: int, errmsg: str, api: str, message: str | None = None) -> None:
        self.ip = _ip_in(errmsg)
        where = f" {self.ip}" if self.ip else ""
        super().__init__(
            code,
            errmsg,
            api,
            message
            or (
                f"企业微信拒绝了本服务器的 IP{where} (60020)：请在企业微信管理后台「应用管理」→ 本应用 →"
                f"「企业可信IP」中加入本服务器的出口 IP{where}。"
                f" (WeCom refused this server's IP{where}: add it to the app's trusted IPs.)"
            ),
        )


class WelcomeCodeUsed(WecomError):
    """The welcome code was used already, or its 20 seconds are over (41051); never retried."""

    retryable = False

    def __init__(self, code: int, errmsg: str, api: str, message: str | None = None) -> None:
        super().__init__(
            code,
            errmsg,
            api,
            message
            or (
                "欢迎语未发送：welcome_code 已被使用或已超过 20 秒有效期 (41051)"
                " (the welcome code was used already or has expired)"
            ),
        )


class Unreachable(DeliveryFailed):
    """WeCom could not be reached, or its answer was not what its documents describe.
    `may_have_reached` is false when the request certainly never arrived (no connection was made),
    so nothing can have been made by it."""

    retryable = True

    def __init__(self, message: str | None = None, may_have_reached: bool = True) -> None:
        super().__init__(message)
        self.may_have_reached = may_have_reached


_BY_CODE: dict[int, type[WecomError]] = {
    TOKEN_INVALID: TokenRejected,
    TOKEN_EXPIRED: TokenRejected,
    RATE_LIMITED: RateLimited,
    IP_NOT_TRUSTED: IpNotTrusted,
    WELCOME_CODE_USED: WelcomeCodeUsed,
}
# Codes worth another attempt later besides those above: the system is busy, or another app is
# sending this welcome right now (document path 92137 says the caller may retry then).
_RETRYABLE = frozenset({-1, WELCOME_BEING_SENT})


def error_for(code: int, errmsg: str, api: str) -> WecomError:
    """The typed error for WeCom's answer `code` to a call of `api`."""
    kind = _BY_CODE.get(code)
    if kind is not None:
        return kind(code, errmsg, api)
    error = WecomError(code, errmsg, api)
    error.retryable = code in _RETRYABLE
    return error


def _ip_in(errmsg: str) -> str | None:
    # WeCom's 60020 message ends "..., from ip: 1.2.3.4, more info at ...".
    found = _FROM_IP.search(errmsg)
    return found.group(1).rstrip(".,") if found else None


__all__ = [
    "IpNotTrusted",
    "RateLimited",
    "TokenRejected",
    "Unreachable",
    "WecomError",
    "WelcomeCodeUsed",
    "error_for",
]
