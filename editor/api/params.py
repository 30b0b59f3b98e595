"""Path and query parameters, bounded so that no input reaches the database in a shape it refuses."""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter, QueryParameter

# Like engine.flow.Identifier.
FLOW_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
# Any text but NUL (PostgreSQL refuses it), as long as the columns allow.
TEXT_PATTERN = r"^[^\x00]+$"
BIGINT_MAX = 2**63 - 1

FlowId = Annotated[str, PathParameter(pattern=FLOW_ID_PATTERN, description="flow id")]
MemberId = Annotated[str, PathParameter(pattern=TEXT_PATTERN, max_length=200, description="member id")]
RunId = Annotated[int, PathParameter(ge=1, le=BIGINT_MAX, description="run id")]
TokenId = Annotated[int, PathParameter(ge=1, le=BIGINT_MAX, description="token id")]
ConnectorName = Annotated[str, PathParameter(pattern=TEXT_PATTERN, max_length=100, description="connector")]
UserName = Annotated[str, PathParameter(pattern=TEXT_PATTERN, max_length=100, description="user name")]
Limit = Annotated[int, QueryParameter(ge=1, le=500, description="page size")]
Offset = Annotated[int, QueryParameter(ge=0, le=10_000_000, description="items to skip")]


def text_filter(name: str, description: str, pattern: str = TEXT_PATTERN) -> QueryParameter:
    """An optional query filter on a text column."""
    return QueryParameter(name=name, pattern=pattern, max_length=200, required=False, description=description)


FlowFilter = Annotated[str | None, text_filter("flow", "flow id", FLOW_ID_PATTERN)]
MemberFilter = Annotated[str | None, text_filter("member", "member id")]
