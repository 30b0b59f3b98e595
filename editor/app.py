"""The web app (DESIGN §9, §11): made by :func:`create_app`, never at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler

from .admin import AdminController
from .api import CONTROLLERS, EXCEPTION_HANDLERS
from .auth import LoginController, LoginFailures, csrf_token, current_user
from .channel_codes import ChannelCodeController, ChannelCodePages
from .community_pages import ContentPages, GroupPages, MemberPages
from .connectors_page import ConnectorsPage
from .delivery_pages import DeliveryPages
from .directory_pages import StaffPages, TagPages
from .headers import add_security_headers
from .inputs import refuse_nul_input
from .pages import PageController, static_files
from .reports.api import ChannelController, ReportController
from .reports.pages import ChannelPages, ReportPages
from .services import Services
from .settings_page import ApprovalPages, SettingsPage
from .task_pages import TaskPages
from .wecom_callback import WecomCallback, WecomHooks
from .worker import ServeWorker

HERE = Path(__file__).resolve().parent
DEFAULT_MAX_BODY = 2 * 1024 * 1024


def _template_engine(engine: JinjaTemplateEngine) -> None:
    engine.register_template_callable("csrf_token", csrf_token)
    engine.register_template_callable("current_user", current_user)


def create_app(
    services: Services,
    *,
    worker: bool = True,
    max_body_size: int = DEFAULT_MAX_BODY,
    extra_routes: Sequence[ControllerRouterHandler] = (),
    debug: bool = False,
    wecom_hooks: WecomHooks | None = None,
) -> Litestar:
    """The qunflow app on `services`, with the in-process worker unless `worker=False` (tests).
    `wecom_hooks`: what WeCom callbacks ask of the outbound side (default: the `wecom` connector's)."""
    running = ServeWorker(services) if worker else None

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        if running is not None:
            await running.start()
        try:
            yield
        finally:
            if running is not None:
                await running.stop()

    def provide_services() -> Services:
        return services

    routes: list[ControllerRouterHandler] = [
        *CONTROLLERS,
        LoginController,
        PageController,
        AdminController,
        ConnectorsPage,
        GroupPages,
        ContentPages,
        MemberPages,
        StaffPages,
        TagPages,
        DeliveryPages,
        WecomCallback,
        SettingsPage,
        ApprovalPages,
        TaskPages,
        ReportController,
        ChannelController,
        ReportPages,
        ChannelPages,
        ChannelCodeController,
        ChannelCodePages,
        static_files(),
        *extra_routes,
    ]
    app = Litestar(
        route_handlers=routes,
        dependencies={"services": Provide(provide_services, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        template_config=TemplateConfig(
            directory=HERE / "templates", engine=JinjaTemplateEngine, engine_callback=_template_engine
        ),
        plugins=[HTMXPlugin()],
        openapi_config=OpenAPIConfig(
            title="群流 qunflow API",
            version="1",
            description="Flows, events, runs, members and deliveries (DESIGN §11). Authenticate with "
            "`Authorization: Bearer <token>` (`qunflow token create --role ROLE`) or a browser session.",
            path="/schema",
            components=Components(
                security_schemes={
                    "token": SecurityScheme(
                        type="http", scheme="bearer", description="`qunflow token create --role ROLE`"
                    )
                }
            ),
            security=[{"token": []}],
        ),
        request_max_body_size=max_body_size,
        before_request=refuse_nul_input,
        lifespan=[lifespan],
        before_send=[add_security_headers],
        debug=debug,
    )
    app.state.services = services
    app.state.login_failures = LoginFailures()
    app.state.worker = running
    app.state.wecom_hooks = wecom_hooks
    return app


__all__ = ["DEFAULT_MAX_BODY", "create_app"]
