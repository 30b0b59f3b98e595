"""Connector plug-ins, sealed secrets and the settings version, below the web app."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from documents import START

from qunflow.engine import SimClock, Store
from qunflow.engine.connectors import (
    ConfiguredRoutes,
    ConnectorContext,
    ConnectorSettings,
    Delivery,
    DeliveryFailed,
)
from qunflow.engine.connectors.plugins import BadConnectorType, check_type, installed_connectors
from qunflow.engine.connectors.settings import secret_fields
from qunflow.engine.errors import UserError
from qunflow.engine.vault import SecretUnreadable, Vault

ROOT = Path(__file__).resolve().parents[2]


def readme_connector() -> Any:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.split(r"^## ", text.split("## Writing a connector", 1)[1], maxsplit=1, flags=re.M)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README's 'Writing a connector' section has no python example"
    module = types.ModuleType("readme_connector")  # msgspec resolves annotations in the class's module
    sys.modules[module.__name__] = module
    try:
        exec(compile(match.group(1), "README.md", "exec"), module.__dict__)  # noqa: S102 - our own README
        kind = module.SmsConnector
        secrets = secret_fields(kind.Options)
    finally:
        del sys.modules[module.__name__]
    return kind, secrets


def test_the_readme_example_is_a_connector_with_a_secret_option() -> None:
    kind, secrets = readme_connector()
    assert check_type(kind) is kind
    assert (kind.name, kind.kinds, secrets) == ("acme_sms", frozenset({"message"}), ("api_key",))


def test_the_built_in_connectors_come_in_through_the_entry_point_group() -> None:
    found = installed_connectors()
    assert {"recording", "webhook"} <= set(found)
    assert secret_fields(found["webhook"].Options) == ("secret",)


def test_a_class_that_is_not_a_connector_is_refused() -> None:
    class NoKinds:
        name = "broken"

    with pytest.raises(BadConnectorType, match="kinds"):
        check_type(NoKinds)


def test_a_bad_secret_key_is_one_clear_error() -> None:
    with pytest.raises(UserError, match="QUNFLOW_SECRET_KEY: not a Fernet key"):
        Vault.for_database("sqlite://", {"QUNFLOW_SECRET_KEY": "password123"})


def test_secrets_sealed_with_another_key_stop_only_that_connector(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    store = Store.open(url)
    clock = SimClock(START)
    context = ConnectorContext(store, clock)
    try:
        first = ConnectorSettings(store, Vault(_key()))
        first.configure("webhook", {"secret": "a-signing-secret", "url": "http://127.0.0.1:9/"}, context, 0)
        first.set_routes({"coupon": "webhook"})
        other = ConnectorSettings(store, Vault(_key()))
        with pytest.raises(SecretUnreadable):
            other.options("webhook")
        routes = ConfiguredRoutes(other, context)
        routes.refresh()
        delivery = Delivery(key="k", kind="coupon", payload={}, flow="f", node="n")
        with pytest.raises(DeliveryFailed) as failed:
            routes.connector_for("coupon").send(delivery)
        assert failed.value.retryable and "a-signing-secret" not in str(failed.value)
        assert routes.connector_for("message").send(delivery).status == "recorded"
    finally:
        store.close()


def _key() -> bytes:
    from cryptography.fernet import Fernet

    return Fernet.generate_key()
