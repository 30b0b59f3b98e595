"""Property-based fuzzing of the HTTP API from its own OpenAPI document (#13): schemathesis generates
requests for every operation, sent to the real app (ASGI, in-process) on a real store, signed in with
an admin API token. No answer may be a 5xx or carry a traceback, and a POST that is refused (4xx)
stores nothing. The example count per operation is bounded so the whole run takes about a minute;
`QUNFLOW_FUZZ_EXAMPLES` raises it to hunt."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from api_helpers import joined, welcome_flow
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from sqlalchemy import func, select

from qunflow.editor.app import create_app
from qunflow.editor.services import Services
from qunflow.engine import Registry, SimClock
from qunflow.engine.store import Store
from qunflow.engine.store.schema import metadata

EXAMPLES = int(os.environ.get("QUNFLOW_FUZZ_EXAMPLES", "20"))
# Tables a refused request may still touch: none today; listed here if that ever changes, with why.
MAY_CHANGE_ON_REFUSAL: frozenset[str] = frozenset()


class Fuzzed:
    """The app under test, its admin token, and what the fuzzing saw."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.app = create_app(services, worker=False, max_body_size=256 * 1024)
        self.token = services.accounts.create_token("admin", services.now_us(), "fuzz")[1]
        self.schema: Any = None
        self.statuses: dict[int, int] = {}  # answers by class (2 for 2xx, ...)
        services.engine.save_draft(welcome_flow("welcome"))
        services.engine.publish("welcome")
        services.engine.ingest(
            __import__("qunflow.engine.event", fromlist=["convert_events"]).convert_events(
                [joined("e-1", "m-1")]
            )
        )

    def keep_signed_in(self) -> None:
        """A generated DELETE may revoke the fuzzing's own token: make another, so that later
        requests reach the handlers rather than stop at 401."""
        if self.services.accounts.token_role(self.token) is None:
            self.token = self.services.accounts.create_token("admin", self.services.now_us(), "fuzz")[1]

    def counts(self) -> dict[str, int]:
        with self.services.store.engine.connect() as conn:
            return {
                name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for name, table in metadata.tables.items()
                if name not in MAY_CHANGE_ON_REFUSAL and name != "alembic_version"
            }


@pytest.fixture
def fuzzed(store_url: str, registry: Registry, clock: SimClock) -> Iterator[Fuzzed]:
    services = Services(Store.open(store_url), registry, clock)
    yield Fuzzed(services)
    services.close()


def test_no_request_gets_a_server_error(fuzzed: Fuzzed) -> None:
    schema = fuzzed.schema = schemathesis.openapi.from_asgi("/schema/openapi.json", fuzzed.app)
    failures: list[str] = []
    tried: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        name = f"{operation.method.upper()} {operation.path}"
        tried[name] = 0

        try:
            fuzz_operation(fuzzed, operation, tried, name)
        except Exception as error:  # each operation's first falsifying example, all reported at once
            failures.append(f"{name}: {error}")
    print(f"fuzzed {sum(tried.values())} requests over {len(tried)} operations, answers {fuzzed.statuses}")
    assert len(tried) >= 15, tried
    assert not failures, "\n".join(failures)


def fuzz_operation(fuzzed: Fuzzed, operation: Any, tried: dict[str, int], name: str) -> None:
    """Requests that fit the schema, then requests that break it (wrong types, missing fields)."""
    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def answers_without_a_server_error(case: Any) -> None:
        tried[name] += 1
        check(fuzzed, case)

    answers_without_a_server_error()


def check(fuzzed: Fuzzed, case: Any) -> None:
    """One generated request: no 5xx, no traceback, and nothing stored when a POST is refused."""
    before = fuzzed.counts() if case.method.upper() == "POST" else None
    response = case.call(headers={"Authorization": f"Bearer {fuzzed.token}"})
    fuzzed.statuses[response.status_code // 100] = fuzzed.statuses.get(response.status_code // 100, 0) + 1
    fuzzed.keep_signed_in()
    body = response.text
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {body[:500]}"
    )
    assert "Traceback" not in body and 'File "' not in body
    if before is not None and 400 <= response.status_code < 500:
        assert fuzzed.counts() == before, f"refused {case.method} {case.formatted_path} stored something"
    if response.status_code < 300 and case.path == "/api/events":
        read_back(fuzzed, case.body)


def read_back(fuzzed: Fuzzed, body: Any) -> None:
    """What an accepted event stored must read back: a bad moment or amount that got in would
    answer 500 on every later read of its member (#13.4), not on the POST itself."""
    events = body if isinstance(body, list) else [body]
    members = {e["member"] for e in events if isinstance(e, dict) and isinstance(e.get("member"), str)}
    reads = [fuzzed.schema["/api/runs"]["GET"].Case(), fuzzed.schema["/api/deliveries"]["GET"].Case()]
    reads += [
        fuzzed.schema["/api/members/{member_id}"]["GET"].Case(path_parameters={"member_id": m})
        for m in members
    ]
    for read in reads:
        answer = read.call(headers={"Authorization": f"Bearer {fuzzed.token}"})
        assert answer.status_code < 500, (
            f"GET {read.formatted_path} after accepting {body!r}: {answer.status_code}"
        )
