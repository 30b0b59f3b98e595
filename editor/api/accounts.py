"""`/api/users`, `/api/tokens` (admin only): accounts. No hash is ever part of an answer."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.params import JSONBody

from qunflow.editor.accounts import TokenInfo, User
from qunflow.engine.errors import Conflict

from ..auth import ADMIN, Principal, allow, principal
from ..services import ServicesDep
from .params import TokenId, UserName


class NewUser(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[^\x00]+$")]
    password: Annotated[str, msgspec.Meta(min_length=8, max_length=1000)]
    role: str = "viewer"


class NewPassword(msgspec.Struct, forbid_unknown_fields=True):
    password: Annotated[str, msgspec.Meta(min_length=8, max_length=1000)]


class NewToken(msgspec.Struct, forbid_unknown_fields=True):
    role: str
    label: Annotated[str, msgspec.Meta(max_length=200, pattern=r"^[^\x00]*$")] | None = None


class CreatedToken(msgspec.Struct):
    """The token is shown this once; the server keeps only its digest."""

    token: str
    info: TokenInfo


def refuse_removing_oneself(who: Principal | None, name: str) -> None:
    """An admin signed in as `name` may not remove that account (409): another admin must, so nobody
    locks themselves out by a slip, whatever form or route the request comes through."""
    if who is not None and who.via == "session" and who.name == name:
        raise Conflict(f"`{name}` is your own account: another admin can remove it (不能删除自己的账号)")


class AccountController(Controller):
    path = "/api"
    tags = ["accounts"]
    guards = [allow(ADMIN)]

    @get("/users", sync_to_thread=True, summary="Users (name, role)")
    def list_users(self, services: ServicesDep) -> list[User]:
        return services.accounts.users()

    @post("/users", sync_to_thread=True, summary="Create a user (admin, operator or viewer)")
    def create_user(self, services: ServicesDep, data: JSONBody[NewUser]) -> User:
        return services.accounts.create_user(data.name, data.password, data.role, services.now_us())

    @post(
        "/users/{name:str}/password",
        sync_to_thread=True,
        status_code=204,
        summary="Set a user's password; their sessions end",
    )
    def set_password(self, services: ServicesDep, name: UserName, data: JSONBody[NewPassword]) -> None:
        services.accounts.set_password(name, data.password)

    @delete(
        "/users/{name:str}",
        summary="Remove a user and end their sessions; 409 for the last admin or one's own account",
    )
    async def delete_user(
        self, request: Request[Any, Any, Any], services: ServicesDep, name: UserName
    ) -> None:
        refuse_removing_oneself(await principal(request), name)
        await anyio.to_thread.run_sync(services.accounts.delete_user, name)

    @get("/tokens", sync_to_thread=True, summary="API tokens (never the tokens themselves)")
    def list_tokens(self, services: ServicesDep) -> list[TokenInfo]:
        return services.accounts.tokens()

    @post("/tokens", sync_to_thread=True, summary="Create an API token; the answer shows it once")
    def create_token(self, services: ServicesDep, data: JSONBody[NewToken]) -> CreatedToken:
        info, token = services.accounts.create_token(data.role, services.now_us(), data.label)
        return CreatedToken(token, info)

    @delete("/tokens/{token_id:int}", sync_to_thread=True, summary="Revoke an API token")
    def revoke_token(self, services: ServicesDep, token_id: TokenId) -> None:
        services.accounts.revoke_token(token_id)
