"""`/admin`: the accounts page for admins (users and API tokens), beside the JSON API's `/api/users`
and `/api/tokens`. Plain forms: a refused one comes back as a page saying why; a new password or
token is shown on the page that made it, once, and never again."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from qunflow.editor.accounts import ROLES, USER_ROLES
from qunflow.engine.clock import from_us

from .api.accounts import refuse_removing_oneself
from .api.params import TokenId, UserName
from .auth import ADMIN, allow, principal, services_of
from .pages import page_context

Form = Body(media_type=RequestEncodingType.URL_ENCODED)


class NewUserForm(msgspec.Struct):
    name: str = ""
    role: str = "viewer"
    password: str = ""


class NewTokenForm(msgspec.Struct):
    role: str = "ingest"
    label: str = ""


class AdminController(Controller):
    path = "/admin"
    guards = [allow(ADMIN)]
    include_in_schema = False

    @get("")
    async def accounts(self, request: Request[Any, Any, Any]) -> Template:
        return await _page(request)

    @post("/users")
    async def create_user(
        self, request: Request[Any, Any, Any], data: Annotated[NewUserForm, Form]
    ) -> Response[Any]:
        services = services_of(request)
        name = data.name.strip()
        await anyio.to_thread.run_sync(
            services.accounts.create_user, name, data.password, data.role, services.now_us()
        )
        return Redirect("/admin", status_code=303)

    @post("/users/{name:str}/password")
    async def new_password(self, request: Request[Any, Any, Any], name: UserName) -> Template:
        password = await anyio.to_thread.run_sync(services_of(request).accounts.new_password, name)
        return await _page(request, shown={"what": "password", "name": name, "secret": password})

    @post("/users/{name:str}/delete")
    async def delete_user(self, request: Request[Any, Any, Any], name: UserName) -> Response[Any]:
        refuse_removing_oneself(await principal(request), name)
        await anyio.to_thread.run_sync(services_of(request).accounts.delete_user, name)
        return Redirect("/admin", status_code=303)

    @post("/tokens")
    async def create_token(
        self, request: Request[Any, Any, Any], data: Annotated[NewTokenForm, Form]
    ) -> Template:
        services = services_of(request)
        info, token = await anyio.to_thread.run_sync(
            services.accounts.create_token, data.role, services.now_us(), data.label.strip() or None
        )
        return await _page(request, shown={"what": "token", "name": info.label or info.role, "secret": token})

    @post("/tokens/{token_id:int}/revoke")
    async def revoke_token(self, request: Request[Any, Any, Any], token_id: TokenId) -> Response[Any]:
        await anyio.to_thread.run_sync(services_of(request).accounts.revoke_token, token_id)
        return Redirect("/admin", status_code=303)


async def _page(request: Request[Any, Any, Any], shown: dict[str, str] | None = None) -> Template:
    accounts = services_of(request).accounts
    users = [
        {"name": u.name, "role": u.role, "created": from_us(u.created_at)}
        for u in await anyio.to_thread.run_sync(accounts.users)
    ]
    tokens = [
        {"id": t.id, "role": t.role, "label": t.label, "created": from_us(t.created_at)}
        for t in await anyio.to_thread.run_sync(accounts.tokens)
    ]
    context = await page_context(
        request, users=users, tokens=tokens, user_roles=USER_ROLES, token_roles=ROLES, shown=shown
    )
    return Template("pages/admin.html", context=context)


__all__ = ["AdminController"]
