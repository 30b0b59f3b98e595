"""`/wecom/callback`: where WeCom calls in (DESIGN §20). Not behind login (WeCom signs its calls).

`GET` answers WeCom's URL verification with the decrypted `echostr`; `POST` takes a callback, turns it
into events (`engine.connectors.wecom.callbacks`) and ingests them the way `POST /api/events` does, so
a callback WeCom retries is acted on once. A wrong signature or receive id is 403, a malformed or
oversized body 400 / 413, and nothing of it is stored. The answer comes at once: the only outbound
call made inline (a customer's profile for `edit_external_contact`) is bounded by
:data:`PROFILE_WAIT`; syncs run after the answer.

What the outbound side provides comes in through :class:`WecomHooks`: by default read from the
installed `wecom` connector type's optional class methods `callback_fetch_profile(options,
external_userid) -> Profile | None`, `callback_sync_group(options, chat_id)` and
`callback_sync_tags(options)`.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import unquote

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask, BackgroundTasks

from qunflow.engine.clock import to_us
from qunflow.engine.connectors.wecom.callbacks import Callback, FetchProfile, callback_events
from qunflow.engine.connectors.wecom.crypto import (
    BadReceiveId,
    BadSignature,
    CallbackCrypto,
    CallbackRejected,
)
from qunflow.engine.connectors.wecom.options import WecomOptions
from qunflow.engine.errors import Conflict, NotFound
from qunflow.engine.event import Profile
from qunflow.engine.store.write_turns import urgent_writes

from .auth import services_of
from .callback_intake import intake_for
from .services import Services

log = logging.getLogger("qunflow.wecom")

CALLBACK_PATH = "/wecom/callback"
MAX_CALLBACK_BODY = 64 * 1024  # WeCom's callbacks are a few hundred bytes
PROFILE_WAIT = 2.0  # seconds; WeCom retries a callback not answered within 5 s
CONNECTOR = "wecom"
_profiles = ThreadPoolExecutor(max_workers=4, thread_name_prefix="wecom-profile")


@dataclass(frozen=True)
class WecomHooks:
    """What the callback route asks of the outbound side; each may be None (then it is not done)."""

    fetch_profile: Callable[[WecomOptions, str], Profile | None] | None = None
    sync_group: Callable[[WecomOptions, str], None] | None = None
    sync_tags: Callable[[WecomOptions], None] | None = None

    @classmethod
    def of_connector(cls, services: Services) -> WecomHooks:
        """The hooks the installed `wecom` connector type offers (none when it is not installed)."""
        kind = services.connectors.types.get(CONNECTOR)
        names = ("callback_fetch_profile", "callback_sync_group", "callback_sync_tags")
        fetch, sync_group, sync_tags = (getattr(kind, name, None) for name in names)
        # The syncs write to the store: they are given this process's (and its engine's ingest).
        context = services.connector_context()
        return cls(
            fetch,
            partial(sync_group, context=context) if sync_group is not None else None,
            partial(sync_tags, context=context) if sync_tags is not None else None,
        )


# The options as last read, per settings and their version: a callback then costs one small read
# instead of reading and decrypting every option (WeCom may call hundreds of times a second).
_read: weakref.WeakKeyDictionary[Any, tuple[int, WecomOptions]] = weakref.WeakKeyDictionary()


def callback_options(services: Services) -> WecomOptions:
    """The WeCom options an admin configured; 404 when the connector is not installed, 409 when it
    is not configured yet."""
    version = services.connectors.version()
    known = _read.get(services.connectors)
    if known is not None and known[0] == version:
        return known[1]
    options = _configured_options(services)
    _read[services.connectors] = (version, options)
    return options


def _configured_options(services: Services) -> WecomOptions:
    if CONNECTOR not in services.connectors.types:
        raise NotFound("the WeCom connector is not installed (没有安装企业微信连接器)")
    if CONNECTOR not in services.connectors.stored():
        raise Conflict(
            "the WeCom connector is not configured: an admin sets it under 连接器 (/admin/connectors) "
            "(企业微信连接器尚未配置)"
        )
    options = services.connectors.options(CONNECTOR)
    assert isinstance(options, WecomOptions)
    return options


def query_values(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The query, decoded once with `%XX` escapes only: a `+` stays a `+` (base64 in `echostr` has
    them), where form decoding would make it a space."""
    values: dict[str, str] = {}
    for part in request.scope.get("query_string", b"").decode("latin-1").split("&"):
        name, _, value = part.partition("=")
        if name:
            values.setdefault(unquote(name), unquote(value))
    return values


def bounded(fetch: Callable[[WecomOptions, str], Profile | None], options: WecomOptions) -> FetchProfile:
    """`fetch` for these options, giving up after :data:`PROFILE_WAIT` (the event then carries what
    the callback had); a failure is logged, never raised."""

    def fetch_profile(external_userid: str) -> Profile | None:
        future = _profiles.submit(fetch, options, external_userid)
        try:
            return future.result(timeout=PROFILE_WAIT)
        except FutureTimeout:
            log.warning("WeCom profile of %s not fetched within %ss", external_userid, PROFILE_WAIT)
        except Exception as error:  # the outbound side's trouble must not lose the callback
            log.warning("WeCom profile of %s not fetched: %s", external_userid, error)
        return None

    return fetch_profile


def _refused(error: CallbackRejected) -> Response[Any]:
    status = 403 if isinstance(error, BadSignature | BadReceiveId) else 400
    code = "forbidden" if status == 403 else "malformed"
    return Response({"error": code, "message": str(error)}, status_code=status, media_type="application/json")


class _Missing(Exception):
    """A query parameter WeCom always sends is missing (its name is the message)."""


def _signed(values: dict[str, str], *names: str) -> list[str]:
    missing = [n for n in names if not values.get(n)]
    if missing:
        raise _Missing(missing[0])
    return [values[n] for n in names]


class WecomCallback(Controller):
    path = CALLBACK_PATH
    include_in_schema = False

    @get("", media_type="text/plain")
    async def verify(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """WeCom's URL verification: the plaintext of `echostr`, once its signature checks."""
        services = services_of(request)
        options = await anyio.to_thread.run_sync(callback_options, services)
        values = query_values(request)
        try:
            signature, timestamp, nonce, echostr = _signed(
                values, "msg_signature", "timestamp", "nonce", "echostr"
            )
            plain = CallbackCrypto.for_options(options).verify_url(signature, timestamp, nonce, echostr)
        except _Missing as missing:
            return _bad_query(str(missing))
        except CallbackRejected as error:
            return _refused(error)
        return Response(plain, media_type="text/plain")

    @post("", status_code=200, media_type="text/plain", request_max_body_size=MAX_CALLBACK_BODY)
    async def receive(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """A callback: checked, decrypted, turned into events and ingested; answered empty (200)."""
        services = services_of(request)
        options = await anyio.to_thread.run_sync(callback_options, services)
        values = query_values(request)
        body = await request.body()
        hooks: WecomHooks = request.app.state.wecom_hooks or WecomHooks.of_connector(services)
        fetch = bounded(hooks.fetch_profile, options) if hooks.fetch_profile is not None else None
        try:
            signature, timestamp, nonce = _signed(values, "msg_signature", "timestamp", "nonce")
            xml = CallbackCrypto.for_options(options).decrypt_callback(body, signature, timestamp, nonce)
            callback = await anyio.to_thread.run_sync(callback_events, xml, fetch)
        except _Missing as missing:
            return _bad_query(str(missing))
        except CallbackRejected as error:
            log.info("WeCom callback refused: %s", error)
            return _refused(error)
        intake = intake_for(services, lambda callbacks: take_all(services, callbacks))
        await anyio.to_thread.run_sync(intake.take, callback)
        return Response("", media_type="text/plain", background=_afterwards(hooks, options, callback))


def take(services: Services, callback: Callback) -> None:
    """Ingest the callback's events (each id once) and mark the groups it dismissed."""
    take_all(services, [callback])


def take_all(services: Services, callbacks: Sequence[Callback]) -> None:
    """Ingest the callbacks' events in one go (each id once), then mark the groups they dismissed."""
    events = [event for callback in callbacks for event in callback.events]
    # A welcome code lasts 20 s: these writes go before a broadcast's waiting ones.
    with urgent_writes():
        if events:
            services.write(services.engine.ingest, events)
        for callback in callbacks:
            for group, at in callback.dismissed:
                services.write(services.store.mark_group_dismissed, group, to_us(at))


def _afterwards(hooks: WecomHooks, options: WecomOptions, callback: Callback) -> BackgroundTasks | None:
    """The syncs a callback asks for, run after WeCom has its answer."""
    tasks = []
    if hooks.sync_group is not None:
        tasks += [BackgroundTask(_quietly, hooks.sync_group, options, g) for g in callback.groups_to_sync]
    if hooks.sync_tags is not None and callback.tags_changed:
        tasks.append(BackgroundTask(_quietly, hooks.sync_tags, options))
    return BackgroundTasks(tasks) if tasks else None


async def _quietly(action: Callable[..., None], *args: Any) -> None:
    try:
        await anyio.to_thread.run_sync(action, *args)
    except Exception as error:  # a sync that fails is retried by the hourly sync
        log.warning("WeCom sync after a callback failed: %s", error)


def _bad_query(name: str) -> Response[Any]:
    return Response(
        {"error": "bad_request", "message": f"{name}: missing from the query", "field": name},
        status_code=400,
        media_type="application/json",
    )


def callback_url(request: Request[Any, Any, Any]) -> str:
    """The address to paste into WeCom's console, as this request reached the server."""
    return f"{str(request.base_url).rstrip('/')}{CALLBACK_PATH}"


__all__ = ["CALLBACK_PATH", "WecomCallback", "WecomHooks", "callback_options", "callback_url", "take"]
