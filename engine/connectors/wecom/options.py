"""The WeCom connector's options (DESIGN §20), as an admin sets them on the connectors page."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

import msgspec

from ..base import Secret

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com"


class MassSendLimit(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How many mass sends (`add_msg_template`) one customer may receive per period. The corp chooses
    its rule in WeCom's admin console (a monthly cap, 7 a week or 1 a day); the admin sets the same
    here. The default is one a day, as WeCom's help pages state the rule (客户每天最多接收来自同一企业
    的管理员的 1 条群发消息); the "4 a month" of older SDK documents is out of date."""

    count: Annotated[int, msgspec.Meta(ge=1, le=1000, description="messages")] = 1
    per: Literal["day", "week", "month"] = "day"


class WecomOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A self-built app's credentials and the corp's rules. `secret`, `token` and `encoding_aes_key`
    are stored encrypted and shown back only as `********`."""

    corp_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="企业ID")]
    secret: Annotated[Secret, msgspec.Meta(min_length=1, max_length=200, description="应用 Secret")]
    agent_id: Annotated[int, msgspec.Meta(ge=0, description="应用 AgentId")]
    token: Annotated[Secret, msgspec.Meta(min_length=1, max_length=64, description="回调 Token")]
    encoding_aes_key: Annotated[
        Secret, msgspec.Meta(min_length=43, max_length=43, description="回调 EncodingAESKey")
    ]
    api_base: Annotated[str, msgspec.Meta(max_length=500, description="API address")] = DEFAULT_API_BASE
    mass_send_limit: MassSendLimit = MassSendLimit()
    confirm_within: timedelta = timedelta(days=1)
    # This server's address as staff reach it: task cards sent to staff link to its task page.
    public_url: Annotated[str, msgspec.Meta(max_length=500, description="本系统访问地址")] | None = None
