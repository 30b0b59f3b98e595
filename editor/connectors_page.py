"""`/admin/connectors`: the connectors page for admins (DESIGN §19), beside `/api/connectors`.

Where each delivery kind goes, and each connector's options, in plain forms generated from the
connector's options schema. Secrets are shown as `********`; a secret left as `********` is kept.
The webhook connector's `allow` option is where admins allow loopback or private destinations.
A refused form comes back as a page saying why (the app's error handler).
"""

from __future__ import annotations

from typing import Any

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect, Template

from qunflow.engine.connectors import SettingInvalid
from qunflow.engine.connectors.wecom.channel_codes import contact_ways as contact_ways_of

from .api.connectors import connectors_view
from .api.params import ConnectorName
from .auth import ADMIN, allow, services_of
from .pages import page_context
from .wecom_callback import callback_url

ROUTE_FIELD = "route."


class ConnectorsPage(Controller):
    path = "/admin/connectors"
    guards = [allow(ADMIN)]
    include_in_schema = False

    @get("")
    async def connectors(self, request: Request[Any, Any, Any]) -> Template:
        return await self._page(request)

    @post("/{name:str}/test")
    async def test_connection(self, request: Request[Any, Any, Any], name: ConnectorName) -> Template:
        """测试连接: the page again, with what the test found under the connector's card."""
        services = services_of(request)
        found = await anyio.to_thread.run_sync(services.connectors.test, name, services.connector_context())
        return await self._page(request, tested={"name": name, **found})

    @post("/{name:str}/sync")
    async def sync(self, request: Request[Any, Any, Any], name: ConnectorName) -> Template:
        """同步: the page again, with what the sync brought in under the connector's card."""
        services = services_of(request)
        found = await anyio.to_thread.run_sync(services.connectors.sync, name, services.connector_context())
        return await self._page(request, synced={"name": name, **found})

    async def _page(
        self, request: Request[Any, Any, Any], tested: dict | None = None, synced: dict | None = None
    ) -> Template:
        services = services_of(request)
        view = await anyio.to_thread.run_sync(connectors_view, services)
        types = services.connectors.types
        cards = [
            {
                **msgspec.structs.asdict(c),
                "fields": form_fields(c.schema, c.options, c.secrets),
                "testable": callable(getattr(types.get(c.name), "test", None)),
                "syncable": services.connectors.syncable(c.name),
            }
            for c in view.connectors
        ]
        contact_ways = await anyio.to_thread.run_sync(contact_ways_of, services.store)
        context = await page_context(
            request,
            view=view,
            cards=cards,
            tested=tested,
            synced=synced,
            contact_ways=contact_ways,
            callback_url=callback_url(request),
        )
        return Template("pages/connectors.html", context=context)

    @post("/routes")
    async def set_routes(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        routes = {
            key[len(ROUTE_FIELD) :]: value
            for key, value in form.items()
            if key.startswith(ROUTE_FIELD) and isinstance(value, str) and value
        }
        services = services_of(request)
        await anyio.to_thread.run_sync(services.write, services.connectors.set_routes, routes)
        return Redirect("/admin/connectors", status_code=303)

    @post("/{name:str}")
    async def configure(self, request: Request[Any, Any, Any], name: ConnectorName) -> Response[Any]:
        services = services_of(request)
        view = await anyio.to_thread.run_sync(connectors_view, services)
        card = next((c for c in view.connectors if c.name == name), None)
        if card is None:
            raise SettingInvalid("name", f"no connector `{name}`")
        form = await request.form()
        options = options_from_form(card.schema, {k: v for k, v in form.items() if isinstance(v, str)})
        await anyio.to_thread.run_sync(
            services.write,
            services.connectors.configure,
            name,
            options,
            services.connector_context(),
            services.now_us(),
        )
        return Redirect(f"/admin/connectors#connector-{name}", status_code=303)


def _properties(schema: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    definitions = schema.get("$defs") or {}
    body = schema
    if "$ref" in schema:
        body = definitions.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return body.get("properties") or {}, set(body.get("required") or ())


def _shape(prop: dict[str, Any]) -> tuple[str, bool]:
    """The field's input (`text`, `number`, `integer`, `boolean`, `lines`, `json`) and whether it is
    nullable."""
    choices = prop.get("anyOf") or [prop]
    nullable = any(c.get("type") == "null" for c in choices)
    main = next((c for c in choices if c.get("type") != "null"), {})
    kind = main.get("type")
    if kind == "array" and (main.get("items") or {}).get("type") == "string":
        return "lines", nullable
    if kind in ("array", "object") or "$ref" in main:
        return "json", nullable  # a nested setting (e.g. a limit with count and period) as JSON text
    if kind in ("number", "integer", "boolean"):
        return kind, nullable
    return "text", nullable


def form_fields(schema: dict[str, Any], options: dict[str, Any] | None, secrets: list[str]) -> list[dict]:
    """One form field per option — a nested option (a limit with a count and a period) one per
    part, named `option.part` — with its input type, current value (secrets masked) and hint."""
    properties, required = _properties(schema)
    fields = []
    for name, prop in properties.items():
        value = (options or {}).get(name, prop.get("default"))
        parts = _parts(schema, prop)
        if parts is not None:
            given = value if isinstance(value, dict) else {}
            for part, sub in parts.items():
                fields.append(
                    _field(f"{name}.{part}", sub, given.get(part, sub.get("default")), False, secrets)
                )
            continue
        fields.append(_field(name, prop, value, name in required, secrets))
    return fields


def _field(name: str, prop: dict[str, Any], value: Any, required: bool, secrets: list[str]) -> dict:
    kind, _ = _shape(prop)
    if kind == "lines":
        value = "\n".join(str(v) for v in value or [])
    elif kind == "json":
        value = "" if value is None else msgspec.json.encode(value).decode()
    choices = " | ".join(str(c) for c in prop.get("enum") or ())
    return {
        "name": name,
        "kind": "password" if name in secrets else kind,
        "value": "" if value is None else value,
        "required": required,
        "description": prop.get("description") or choices,
    }


def _parts(schema: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any] | None:
    """The parts of a nested option whose parts are all plain values, by name; None otherwise."""
    ref = next((c["$ref"] for c in prop.get("anyOf") or [prop] if "$ref" in c), None)
    if ref is None:
        return None
    body = (schema.get("$defs") or {}).get(ref.rsplit("/", 1)[-1], {})
    parts = body.get("properties") or {}
    if not parts or any(_shape(p)[0] in ("json", "lines") for p in parts.values()):
        return None
    return parts


def options_from_form(schema: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    """The options a submitted form stands for, typed by the schema; a bad number names its field."""
    properties, _ = _properties(schema)
    options: dict[str, Any] = {}
    for name, prop in properties.items():
        parts = _parts(schema, prop)
        if parts is not None:
            given = {part: form.get(f"{name}.{part}", "") for part in parts}
            if any(text.strip() for text in given.values()):  # all empty: the default applies
                options[name] = options_from_form({"properties": parts}, given)
            continue
        kind, nullable = _shape(prop)
        text = form.get(name, "").strip()
        if kind == "boolean":
            options[name] = name in form
        elif kind == "lines":
            options[name] = [line.strip() for line in text.splitlines() if line.strip()]
        elif kind == "json" and text:
            try:
                options[name] = msgspec.json.decode(text)
            except msgspec.DecodeError:
                raise SettingInvalid(name, "not valid JSON") from None
        elif not text:
            if nullable:
                options[name] = None
            # otherwise left out: the default applies, or the option is missing and named so
        elif kind in ("number", "integer"):
            try:
                options[name] = int(text) if kind == "integer" else float(text)
            except ValueError:
                raise SettingInvalid(name, f"`{text}` is not a number") from None
        else:
            options[name] = text
    return options


__all__ = ["ConnectorsPage", "form_fields", "options_from_form"]
