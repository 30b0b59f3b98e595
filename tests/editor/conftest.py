"""Fixtures for the web app: services on a store per backend, the app, a client, tokens and sign-in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_helpers import PASSWORD, ROLES, login_csrf
from litestar import Litestar
from litestar.testing import TestClient

from qunflow.editor.app import create_app
from qunflow.editor.services import Services
from qunflow.engine import Registry, SimClock, Store


@pytest.fixture
def services(store_url: str, registry: Registry, clock: SimClock) -> Iterator[Services]:
    services = Services(Store.open(store_url), registry, clock)
    yield services
    services.close()


@pytest.fixture
def app(services: Services) -> Litestar:
    return create_app(services, worker=False, max_body_size=64 * 1024)


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def tokens(services: Services) -> dict[str, str]:
    """One API token per role."""
    return {role: services.accounts.create_token(role, services.now_us())[1] for role in ROLES}


@pytest.fixture
def sign_in(client: TestClient[Litestar], services: Services) -> Callable[[str], str]:
    """Create a user with `role`, sign the client in through the login form; returns the CSRF token."""

    def sign_in(role: str) -> str:
        name = f"{role}-user"
        if services.accounts.get_user(name) is None:
            services.accounts.create_user(name, PASSWORD, role, services.now_us())
        page = client.get("/login")
        answer = client.post(
            "/login",
            data={"username": name, "password": PASSWORD, "_csrf": login_csrf(page.text), "next": "/"},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        return client.cookies["qunflow_csrf"]

    return sign_in


# Browser tests (Chromium): a module's browser, and a server on an empty database for modules that
# make their own data through the API. A module that needs a seeded server defines its own `base_url`.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from browser_kit import chromium

    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from browser_server import running_server

    with running_server(tmp_path_factory.mktemp("server") / "qunflow.db") as url:
        yield url
