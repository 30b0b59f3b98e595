"""Shared fixtures: a clock, a registry copy, a store per backend. Document helpers: `documents`."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from documents import START, event, flow, node  # noqa: F401 - the document helpers, also importable here
from sqlalchemy import create_engine, text

from qunflow.engine import Engine, Registry, SimClock, Store, default_registry

PG_ENV = "QUNFLOW_TEST_POSTGRES_URL"

# One secret key for the tests and the processes they start, so that no key file is left in the
# working directory by tests on PostgreSQL; the key file itself has tests of its own.
os.environ.setdefault("QUNFLOW_SECRET_KEY", "Jw4o9a7c1JHq1l0s3Zc2oY1lq0V5pX6m9tW8rE7yU2Q=")


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START)


@pytest.fixture
def registry() -> Registry:
    return default_registry().copy()


def _postgres_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://127.0.0.1:5432/test)")
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    base = _postgres_url()
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1), pool_pre_ping=True)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A database URL per backend: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'qunflow.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    store = Store.open(store_url)
    yield store
    store.close()


@pytest.fixture
def engine(store: Store, registry: Registry, clock: SimClock) -> Engine:
    return Engine(store, registry, clock)
