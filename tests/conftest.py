"""Shared fixtures: a clock, a registry copy, a store per backend, a flow factory, simulate helpers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from engine import Engine, Registry, SimClock, Store, default_registry

PG_ENV = "QUNFLOW_TEST_POSTGRES_URL"
START = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


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
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
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


def flow(id: str = "f", nodes: list[dict[str, Any]] | None = None, edges: list[Any] | None = None,
         **extra: Any) -> dict[str, Any]:
    """A flow document; edges may be given as ("a", "b") or ("a", "port", "b") tuples."""
    made = []
    for edge in edges or []:
        if isinstance(edge, tuple):
            made.append({"from": edge[0], "to": edge[-1], **({"port": edge[1]} if len(edge) == 3 else {})})
        else:
            made.append(edge)
    return {"id": id, "nodes": nodes or [], "edges": made, **extra}


def node(id: str, type: str, **config: Any) -> dict[str, Any]:
    return {"id": id, "type": type, "config": config}


def event(id: str, type: str, at: str, member: str | None = "m-1", **fields: Any) -> dict[str, Any]:
    return {"id": id, "type": type, "at": at, **({"member": member} if member else {}), **fields}
