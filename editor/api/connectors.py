"""`/api/connectors` (admin only): the installed connectors, their options and the routes from
delivery kinds to connectors (DESIGN §19). Secrets are shown only as `********`; sent back as
`********`, the stored secret is kept. Changes reach running workers at their next batch."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post, put
from litestar.params import Body

from qunflow.engine.connectors import MASK

from ..auth import ADMIN, allow
from ..services import Services, ServicesDep
from .errors import refuse_nul
from .params import ConnectorName


class ConnectorView(msgspec.Struct):
    """One installed connector. `options` is what an admin configured (None: never configured), each
    secret as `********`; `routes` are the kinds routed to it."""

    name: str
    title: dict[str, str]
    kinds: list[str]
    delivers: bool
    schema: dict[str, Any]
    secrets: list[str]
    configured: bool
    options: dict[str, Any] | None
    routes: list[str]


class ConnectorSync(msgspec.Struct):
    """What a sync did: whether it worked, in words, and one line per kind of thing synced."""

    ok: bool
    message: str
    lines: list[str] = []


class ConnectionTest(msgspec.Struct):
    """What testing a connector's connection found: whether it works, and in words (简体中文 first)
    what worked or what to fix."""

    ok: bool
    message: str


class ConnectorsView(msgspec.Struct):
    """Every installed connector; the routes (kinds without one are recorded, not sent); the kinds
    that may be routed; and whether any route leads to a connector that sends (`delivering`)."""

    connectors: list[ConnectorView]
    routes: dict[str, str]
    kinds: list[str]
    delivering: bool


def connectors_view(services: Services) -> ConnectorsView:
    settings = services.connectors
    return ConnectorsView(
        connectors=[ConnectorView(**c) for c in settings.describe()],
        routes=settings.routes(),
        kinds=list(settings.routable_kinds()),
        delivering=settings.delivering(),
    )


Options = Annotated[
    dict[str, Any],
    Body(
        title="options",
        description=f"the connector's options (see its `schema`); a secret given as `{MASK}` "
        "keeps the stored one",
    ),
]
Routes = Annotated[
    dict[str, str],
    Body(
        title="routes",
        description='delivery kind → connector name, e.g. `{"message": "webhook", "coupon": "webhook"}`; '
        "replaces every route; kinds left out are recorded, not sent",
    ),
]


class ConnectorController(Controller):
    path = "/api/connectors"
    tags = ["connectors"]
    guards = [allow(ADMIN)]

    @get("", sync_to_thread=True, summary="Connectors, their options (secrets masked) and the routes")
    def list_connectors(self, services: ServicesDep) -> ConnectorsView:
        return connectors_view(services)

    @put("/routes", sync_to_thread=True, summary="Replace the routes from delivery kinds to connectors")
    def set_routes(self, services: ServicesDep, data: Routes) -> ConnectorsView:
        refuse_nul(data)
        services.write(services.connectors.set_routes, data)
        return connectors_view(services)

    @post(
        "/{name:str}/test",
        sync_to_thread=True,
        status_code=200,
        summary="Test a connector's connection (for connectors that offer a test)",
    )
    def test_connection(self, services: ServicesDep, name: ConnectorName) -> ConnectionTest:
        return ConnectionTest(**services.connectors.test(name, services.connector_context()))

    @post(
        "/{name:str}/sync",
        sync_to_thread=True,
        status_code=200,
        summary="Sync the connector's outside data in now (WeCom: staff, customers, groups, tags)",
    )
    def sync(self, services: ServicesDep, name: ConnectorName) -> ConnectorSync:
        return ConnectorSync(**services.connectors.sync(name, services.connector_context()))

    @put("/{name:str}", sync_to_thread=True, summary="Configure a connector's options")
    def configure(self, services: ServicesDep, name: ConnectorName, data: Options) -> ConnectorView:
        refuse_nul(data)
        services.write(
            services.connectors.configure, name, data, services.connector_context(), services.now_us()
        )
        return next(ConnectorView(**c) for c in services.connectors.describe() if c["name"] == name)
