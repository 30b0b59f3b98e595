"""Who is asking, and may they: sessions, API tokens, roles, CSRF, and the login page.

A browser signs in with a password and gets a signed, HttpOnly, SameSite session cookie; its
state-changing requests carry a CSRF token (form field `_csrf` or header `X-CSRF-Token`) derived
from the session. A machine sends `Authorization: Bearer <token>`; such requests cannot be forged
by a browser, so they need no CSRF token. Every route states the roles it allows with :func:`allow`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Literal

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Template

from qunflow.editor.accounts import SESSION_LIFETIME_US, User, token_principal

from .services import Services
from .throttle import LoginFailures

ADMIN = frozenset({"admin"})
WRITE = frozenset({"admin", "operator"})
READ = frozenset({"admin", "operator", "viewer"})
# Events come from machines (ingest tokens); admins and operators may feed them too.
INGEST = frozenset({"admin", "operator", "ingest"})

SESSION_COOKIE = "qunflow_session"
LOGIN_COOKIE = "qunflow_login"
# The session's CSRF token, readable by the page's scripts (double submit): they send it back in
# the header. It reveals nothing: it is an HMAC of the session id, and other sites cannot read it.
CSRF_COOKIE = "qunflow_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "_csrf"
SESSION_MAX_AGE = SESSION_LIFETIME_US // 1_000_000
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Principal(msgspec.Struct, frozen=True):
    """The one making a request: a signed-in user, or an API token."""

    name: str
    role: str
    via: Literal["session", "token"]
    session_id: str | None = None


class LoginRequired(NotAuthorizedException):
    """Sign in first (请先登录)."""


class CsrfRefused(PermissionDeniedException):
    """The form is stale or forged: missing or wrong CSRF token (请刷新页面后重试)."""


# -- signing -----------------------------------------------------------------------------------------


def sign(key: bytes, purpose: str, value: str) -> str:
    mac = hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def session_cookie_value(key: bytes, session_id: str) -> str:
    return f"{session_id}.{sign(key, 'session', session_id)}"


def session_id_from_cookie(key: bytes, value: str) -> str | None:
    session_id, _, signature = value.rpartition(".")
    if session_id and len(value) < 200 and hmac.compare_digest(signature, sign(key, "session", session_id)):
        return session_id
    return None


def csrf_token_for(key: bytes, session_id: str) -> str:
    return sign(key, "csrf", session_id)


# -- who is asking ------------------------------------------------------------------------------------


def services_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Services:
    return connection.app.state.services


async def principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The request's principal (looked up once per request)."""
    state = connection.state
    if "principal" in state:
        return state.principal
    services = services_of(connection)
    found: Principal | None = None
    scheme, _, credential = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        token = await anyio.to_thread.run_sync(services.accounts.token_role, credential.strip())
        if token is not None:
            found = Principal(token_principal(token[0]), token[1], "token")
    elif cookie := connection.cookies.get(SESSION_COOKIE):
        session_id = session_id_from_cookie(services.signing_key, cookie)
        if session_id is not None:
            user = await anyio.to_thread.run_sync(
                services.accounts.session_user, session_id, services.now_us()
            )
            if user is not None:
                found = Principal(user.name, user.role, "session", session_id)
                state.csrf = csrf_token_for(services.signing_key, session_id)
    state.principal = found
    return found


async def submitted_csrf(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    token = connection.headers.get(CSRF_HEADER.lower())
    if token:
        return token
    content_type, _ = connection.content_type
    if content_type in (RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART) and isinstance(
        connection, Request
    ):
        value = (await connection.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


def allow(roles: frozenset[str]) -> Guard:
    """A guard: the request needs a principal with one of `roles`, and a CSRF token if it is a
    state-changing request made with a session cookie."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        who = await principal(connection)
        if who is None:
            raise LoginRequired()
        if who.role not in roles:
            raise PermissionDeniedException(f"role `{who.role}` may not do this (权限不足)")
        if who.via == "session" and connection.scope.get("method") not in SAFE_METHODS:
            expected = csrf_token_for(services_of(connection).signing_key, who.session_id or "")
            if not hmac.compare_digest(await submitted_csrf(connection), expected):
                raise CsrfRefused(
                    "missing or wrong CSRF token: reload the page and try again (请刷新页面后重试)"
                )

    guard.roles = roles  # type: ignore[attr-defined]
    return guard


# -- template helpers ---------------------------------------------------------------------------------


def csrf_token(context: Mapping[str, Any]) -> str:
    """`{{ csrf_token() }}` in a template: the token forms and htmx requests send back."""
    if context.get("csrf"):
        return context["csrf"]
    request = context.get("request")
    return getattr(request.state, "csrf", "") if request is not None else ""


def current_user(context: Mapping[str, Any]) -> Principal | None:
    """`{{ current_user() }}` in a template: who is signed in, or None."""
    request = context.get("request")
    return request.state.get("principal") if request is not None else None


# -- login and logout ---------------------------------------------------------------------------------


class LoginForm(msgspec.Struct):
    username: str = ""
    password: str = ""
    next: str = "/"


def safe_next(target: str) -> str:
    """Only same-site paths: never an open redirect."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target and len(target) < 500:
        return target
    return "/"


def _secure(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https"


class LoginController(Controller):
    path = ""
    include_in_schema = False

    @get("/login", sync_to_thread=False)
    def login_page(self, request: Request[Any, Any, Any], next: FromQuery[str] = "/") -> Response[Any]:
        return self._page(request, next, error=None, status=200)

    @post("/login")
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[Any]:
        services = services_of(request)
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        form = await request.form()
        submitted = form.get(CSRF_FIELD, "")
        if (
            not nonce
            or not isinstance(submitted, str)
            or not hmac.compare_digest(submitted, sign(services.signing_key, "login", nonce))
        ):
            return self._page(
                request, data.next, error="页面已过期，请重试 (the form expired, try again)", status=403
            )
        name = data.username[:100]
        client = request.client.host if request.client else ""
        failures: LoginFailures = request.app.state.login_failures
        if failures.blocked(client, name):
            return self._page(
                request,
                data.next,
                error="尝试次数过多，请稍后再试 (too many attempts, try later)",
                status=429,
            )
        user: User | None = await anyio.to_thread.run_sync(
            services.accounts.authenticate, name, data.password[:1000]
        )
        if user is None:
            failures.failed(client, name)
            return self._page(
                request, data.next, error="用户名或密码不正确 (wrong username or password)", status=401
            )
        failures.forget(client, name)
        session_id = await anyio.to_thread.run_sync(
            services.accounts.open_session, user.name, services.now_us()
        )
        response = Redirect(safe_next(data.next), status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            session_cookie_value(services.signing_key, session_id),
            httponly=True,
            samesite="lax",
            secure=_secure(request),
            path="/",
            max_age=SESSION_MAX_AGE,
        )
        response.set_cookie(
            CSRF_COOKIE,
            csrf_token_for(services.signing_key, session_id),
            httponly=False,
            samesite="strict",
            secure=_secure(request),
            path="/",
            max_age=SESSION_MAX_AGE,
        )
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    @post("/logout", guards=[allow(READ)])
    async def logout(self, request: Request[Any, Any, Any]) -> Response[Any]:
        who = await principal(request)
        if who is not None and who.session_id:
            await anyio.to_thread.run_sync(services_of(request).accounts.close_session, who.session_id)
        response = Redirect("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response

    @staticmethod
    def _page(request: Request[Any, Any, Any], next: str, error: str | None, status: int) -> Response[Any]:
        services = services_of(request)
        nonce = secrets.token_urlsafe(16)
        cookie = Cookie(
            key=LOGIN_COOKIE,
            value=nonce,
            httponly=True,
            samesite="strict",
            path="/login",
            secure=_secure(request),
        )
        return Template(
            "login.html",
            context={
                "csrf": sign(services.signing_key, "login", nonce),
                "next": safe_next(next),
                "error": error,
            },
            status_code=status,
            cookies=[cookie],
        )


__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "ADMIN",
    "INGEST",
    "READ",
    "WRITE",
    "CsrfRefused",
    "LoginController",
    "LoginFailures",
    "LoginRequired",
    "Principal",
    "allow",
    "csrf_token",
    "current_user",
    "principal",
]
