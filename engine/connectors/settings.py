"""What admins configured for connectors (DESIGN §19): each connector's options and the routes from
delivery kinds to connectors, in the store, with secret options sealed by the secret key.

Every change bumps a settings version number, so running processes (the dispatcher of `serve` and of
each `qunflow worker`) see it without a restart: they compare the number before sending a batch.
Secrets are shown back only as `********`; given back as `********`, the stored secret is kept.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import delete, insert, select, update

from ..errors import NotFound, UserError
from ..store import schema as t
from .base import ROUTABLE_KINDS, SECRET_MARK, ConnectorContext, ConnectorType, DeliveryFailed
from .plugins import delivers, installed_connectors

if TYPE_CHECKING:
    from ..store import Store
    from ..vault import Vault

DEFAULT_CONNECTOR = "recording"  # where a kind without a route goes (DESIGN §8)
MASK = "********"
VERSION = "connector_settings"  # the row of `sequences` that counts changes
VERSION_FRESH = 1.0  # seconds a version read is trusted (see ConnectorSettings.version)


class SettingInvalid(UserError):
    """A connector setting is refused; `field` names the option or delivery kind."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def secret_fields(options: type[msgspec.Struct]) -> tuple[str, ...]:
    """The option names marked secret (typed :data:`engine.connectors.Secret`)."""
    info = msgspec.inspect.type_info(options)
    return tuple(f.encode_name for f in info.fields if _secret(f.type))  # type: ignore[attr-defined]


def _secret(kind: Any) -> bool:
    if isinstance(kind, msgspec.inspect.Metadata):
        return bool((kind.extra or {}).get(SECRET_MARK)) or _secret(kind.type)
    if isinstance(kind, msgspec.inspect.UnionType):
        return any(_secret(k) for k in kind.types)
    return False


def options_schema(options: type[msgspec.Struct]) -> dict[str, Any]:
    """The options' JSON Schema; secret fields are `writeOnly` with format `password`."""
    schema = msgspec.json.schema(options)
    body = schema.get("$defs", {}).get(options.__name__, schema)
    for name in secret_fields(options):
        body.get("properties", {}).get(name, {}).update({"writeOnly": True, "format": "password"})
    return schema


class ConnectorSettings:
    """Stored connector options and routes, for the admin API and for the dispatchers."""

    def __init__(self, store: Store, vault: Vault, types: Mapping[str, ConnectorType] | None = None) -> None:
        self.store = store
        self.vault = vault
        self.types = dict(types if types is not None else installed_connectors())
        self._version: tuple[float, int] | None = None  # (when read, the version) — see `version`

    # -- reading -----------------------------------------------------------------------------------

    def version(self) -> int:
        """A number that changes whenever settings or routes change. Read at most once per
        :data:`VERSION_FRESH`: every callback and every dispatch asks, hundreds of times a second.
        A change made here is seen at once; one made by another process within that time."""
        known = self._version
        now = time.monotonic()
        if known is not None and now - known[0] < VERSION_FRESH:
            return known[1]
        c = t.sequences.c
        with self.store.engine.connect() as conn:
            version = conn.execute(select(c.value).where(c.name == VERSION)).scalar() or 0
        self._version = (now, version)
        return version

    def routable_kinds(self) -> tuple[str, ...]:
        """§5's delivery kinds, `welcome`, `tag`, and any other kind an installed connector makes."""
        extra = sorted({k for kind in self.types.values() for k in kind.kinds} - set(ROUTABLE_KINDS))
        return (*ROUTABLE_KINDS, *extra)

    def routes(self) -> dict[str, str]:
        """Delivery kind → connector name, for the kinds that have a route."""
        c = t.connector_routes.c
        with self.store.engine.connect() as conn:
            return dict(conn.execute(select(c.kind, c.connector).order_by(c.kind)).tuples().all())

    def stored(self) -> dict[str, dict[str, Any]]:
        """Each configured connector's options as stored (secrets sealed)."""
        c = t.connector_settings.c
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(c.name, c.options)).tuples().all()
            return {name: msgspec.json.decode(text) for name, text in rows}

    def options(self, name: str, stored: dict[str, Any] | None = None) -> msgspec.Struct:
        """The connector's options, secrets opened; a connector never configured gets its defaults.
        Raises SettingInvalid when it cannot have them (it needs configuring first)."""
        kind = self._type(name)
        values = dict(stored if stored is not None else self.stored().get(name, {}))
        for field in secret_fields(kind.Options):
            if isinstance(values.get(field), str):
                values[field] = self.vault.open(values[field])
        try:
            return msgspec.convert(values, kind.Options)
        except msgspec.ValidationError as error:
            raise SettingInvalid(name, f"connector `{name}` is not configured: {error}") from None

    def delivering(self) -> bool:
        """Whether any route leads to a connector that sends (not only records)."""
        return any(name in self.types and delivers(self.types[name]) for name in self.routes().values())

    def describe(self) -> list[dict[str, Any]]:
        """Each installed connector with its kinds, options schema, configured options (secrets
        masked) and the kinds routed to it."""
        stored, routes = self.stored(), self.routes()
        found = []
        for name, kind in self.types.items():
            secrets = secret_fields(kind.Options)
            options = stored.get(name)
            if options is not None:
                options = {k: MASK if k in secrets and v else v for k, v in options.items()}
            found.append(
                {
                    "name": name,
                    "title": dict(getattr(kind, "title", None) or {"zh": name, "en": name}),
                    "kinds": sorted(kind.kinds),
                    "delivers": delivers(kind),
                    "schema": options_schema(kind.Options),
                    "secrets": list(secrets),
                    "configured": options is not None,
                    "options": options,
                    "routes": sorted(k for k, n in routes.items() if n == name),
                }
            )
        return found

    def test(self, name: str, context: ConnectorContext) -> dict[str, Any]:
        """Try the connector's connection as configured (for connectors that offer `test()`):
        `{"ok": true, "message"}` when it works, `{"ok": false, "message"}` saying what failed."""
        kind = self._type(name)
        if not callable(getattr(kind, "test", None)):
            raise SettingInvalid(name, f"connector `{name}` has no connection test (此连接器不支持测试连接)")
        connector = kind.open(self.options(name), context)
        try:
            return {"ok": True, "message": str(connector.test())}  # type: ignore[attr-defined]
        except DeliveryFailed as error:  # the connector's own words: what failed and what to fix
            return {"ok": False, "message": str(error)}
        finally:
            close = getattr(connector, "close", None)
            if callable(close):
                close()

    def syncable(self, name: str) -> bool:
        """Whether the connector offers `sync()` (bringing the outside system's data in)."""
        return callable(getattr(self.types.get(name), "sync", None))

    def sync(self, name: str, context: ConnectorContext) -> dict[str, Any]:
        """Sync the connector's outside data in now (for connectors that offer `sync()`):
        `{"ok": true, "message", "lines"}` with one line per kind of thing synced, or
        `{"ok": false, "message"}` saying what failed."""
        kind = self._type(name)
        if not self.syncable(name):
            raise SettingInvalid(name, f"connector `{name}` has nothing to sync (此连接器不支持同步)")
        connector = kind.open(self.options(name), context)
        try:
            lines = list(connector.sync().lines())  # type: ignore[attr-defined]
        except DeliveryFailed as error:  # the connector's own words: what failed and what to fix
            return {"ok": False, "message": str(error), "lines": []}
        finally:
            close = getattr(connector, "close", None)
            if callable(close):
                close()
        return {"ok": True, "message": "同步完成 (synced)", "lines": lines}

    # -- changing ----------------------------------------------------------------------------------

    def configure(self, name: str, given: Mapping[str, Any], context: ConnectorContext, now: int) -> None:
        """Store a connector's options after checking them (they must decode and open); a secret
        given as `********` keeps the stored one."""
        kind = self._type(name)
        if not isinstance(given, Mapping):
            raise SettingInvalid("options", "must be a JSON object")
        stored = self.stored().get(name, {})
        secrets = secret_fields(kind.Options)
        plain = dict(given)
        for field in secrets:
            if plain.get(field) == MASK:
                if not isinstance(stored.get(field), str):
                    raise SettingInvalid(field, "no stored secret to keep: enter it")
                plain[field] = self.vault.open(stored[field])
        try:
            options = msgspec.convert(plain, kind.Options)
        except msgspec.ValidationError as error:
            raise SettingInvalid(_field_of(error), str(error)) from None
        try:
            kind.open(options, context)
        except UserError as error:
            field, _, message = str(error).partition(": ")
            raise SettingInvalid(field if message else name, message or str(error)) from None
        values = msgspec.to_builtins(options)
        for field in secrets:
            if isinstance(values.get(field), str):
                values[field] = self.vault.seal(values[field])
        text = msgspec.json.encode(values).decode()
        c = t.connector_settings.c
        with self.store.transaction() as conn:
            done = conn.execute(
                update(t.connector_settings).where(c.name == name).values(options=text, updated_at=now)
            ).rowcount
            if not done:
                conn.execute(insert(t.connector_settings).values(name=name, options=text, updated_at=now))
            self._bump(conn)
        self._version = None

    def set_routes(self, routes: Mapping[str, Any]) -> None:
        """Replace the routes: each kind to a connector that can make it and is configured."""
        if not isinstance(routes, Mapping):
            raise SettingInvalid("routes", "must be a JSON object of delivery kind → connector")
        routable = self.routable_kinds()
        stored = self.stored()
        for kind, name in routes.items():
            if kind not in routable:
                raise SettingInvalid(kind, f"not a delivery kind that can be routed ({', '.join(routable)})")
            if not isinstance(name, str) or name not in self.types:
                raise SettingInvalid(kind, f"no connector `{name}` (installed: {', '.join(self.types)})")
            if kind not in self.types[name].kinds:
                raise SettingInvalid(kind, f"connector `{name}` cannot make `{kind}` deliveries")
            try:
                options = self.options(name, stored.get(name, {}))
            except SettingInvalid:
                raise SettingInvalid(kind, f"connector `{name}` is not configured yet") from None
            # A connector may make some kinds only with some options (the webhook's endpoint URL).
            kinds_for = getattr(self.types[name], "kinds_for", None)
            if kinds_for is not None and kind not in kinds_for(options):
                raise SettingInvalid(
                    kind, f"connector `{name}` cannot make `{kind}` deliveries with its options"
                )
        with self.store.transaction() as conn:
            conn.execute(delete(t.connector_routes))
            if routes:
                conn.execute(
                    insert(t.connector_routes), [{"kind": k, "connector": n} for k, n in routes.items()]
                )
            self._bump(conn)
        self._version = None

    def _type(self, name: str) -> ConnectorType:
        kind = self.types.get(name)
        if kind is None:
            raise NotFound(f"no connector `{name}`")
        return kind

    def _bump(self, conn: Any) -> None:
        c = t.sequences.c
        if not conn.execute(update(t.sequences).where(c.name == VERSION).values(value=c.value + 1)).rowcount:
            conn.execute(insert(t.sequences).values(name=VERSION, value=1))


def _field_of(error: msgspec.ValidationError) -> str:
    # msgspec ends its messages with "- at `$.field...`".
    message = str(error)
    if "required field `" in message:
        return message.split("required field `", 1)[1].split("`", 1)[0]
    if "unknown field `" in message:
        return message.split("unknown field `", 1)[1].split("`", 1)[0]
    if "at `$." in message:
        return message.rsplit("at `$.", 1)[1].rstrip("`").split(".")[0].split("[")[0]
    return "options"


__all__ = [
    "DEFAULT_CONNECTOR",
    "MASK",
    "ConnectorSettings",
    "SettingInvalid",
    "options_schema",
    "secret_fields",
]
