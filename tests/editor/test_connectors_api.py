"""`/api/connectors` and the connectors page: plug-ins found through their entry point, options with
secrets sealed and masked, routes checked, admins only; and pages that never call a recorded
delivery sent."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import msgspec
import pytest
from api_helpers import bearer
from connector_kit import coupon_and_message_flow, make_tiny_distribution, signup
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import select

from qunflow.editor.app import create_app
from qunflow.editor.connectors_page import form_fields, options_from_form
from qunflow.editor.services import Services
from qunflow.engine import Registry, SimClock, Store
from qunflow.engine.connectors import SettingInvalid
from qunflow.engine.connectors.settings import options_schema
from qunflow.engine.outbox import open_dispatcher
from qunflow.engine.store import schema as t

SECRET = "webhook-signing-secret"


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The tiny connector package on sys.path (as if installed); yields the file it writes to."""
    monkeypatch.syspath_prepend(str(make_tiny_distribution(tmp_path / "site")))
    yield tmp_path / "tiny.log"
    import sys

    sys.modules.pop("tinyconn", None)


@pytest.fixture
def services(store_url: str, registry: Registry, clock: SimClock, tiny: Path) -> Iterator[Services]:
    services = Services(Store.open(store_url), registry, clock)
    yield services
    services.close()


@pytest.fixture
def app(services: Services) -> Litestar:
    return create_app(services, worker=False)


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def admin(services: Services) -> dict[str, str]:
    return bearer(services.accounts.create_token("admin", services.now_us())[1])


def stored_options(services: Services, name: str) -> str:
    c = t.connector_settings.c
    with services.store.engine.connect() as conn:
        return conn.execute(select(c.options).where(c.name == name)).scalar_one()


def test_installed_connectors_are_listed_with_their_kinds_and_schema(
    client: TestClient[Litestar], admin: dict[str, str]
) -> None:
    answer = client.get("/api/connectors", headers=admin)
    assert answer.status_code == 200, answer.text
    found = {c["name"]: c for c in answer.json()["connectors"]}
    assert set(found) == {"recording", "tiny", "webhook", "wecom"}  # tiny: another "distribution"
    assert found["tiny"]["kinds"] == ["coupon", "message"]
    assert found["tiny"]["secrets"] == ["token"]
    assert found["webhook"]["secrets"] == ["secret"]
    schema = found["webhook"]["schema"]["$defs"]["WebhookOptions"]["properties"]
    assert schema["secret"]["writeOnly"] is True and "allow" in schema
    assert answer.json()["routes"] == {} and answer.json()["delivering"] is False
    assert {"message", "coupon", "welcome", "tag", "webhook"} <= set(answer.json()["kinds"])


def test_secrets_are_sealed_at_rest_and_shown_masked(
    client: TestClient[Litestar], admin: dict[str, str], services: Services, tiny: Path
) -> None:
    options = {"path": str(tiny), "token": "tiny-token-123"}
    answer = client.put("/api/connectors/tiny", json=options, headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.json()["options"] == {"path": str(tiny), "token": "********"}

    row = stored_options(services, "tiny")
    assert "tiny-token-123" not in row and "fernet:" in row
    listed = client.get("/api/connectors", headers=admin).text
    assert "tiny-token-123" not in listed

    # `********` keeps the stored secret; the connector still opens with the real one.
    again = client.put("/api/connectors/tiny", json={**options, "token": "********"}, headers=admin)
    assert again.status_code == 200
    assert services.connectors.options("tiny").token == "tiny-token-123"
    assert stored_options(services, "tiny") != row  # sealed afresh, same secret


def test_bad_options_are_refused_naming_the_field_and_store_nothing(
    client: TestClient[Litestar], admin: dict[str, str], services: Services
) -> None:
    cases = [
        ({"secret": "short"}, "secret"),
        ({"url": "http://example.com/"}, "secret"),
        ({"secret": SECRET, "allow": ["10.0.0.0/33"]}, "allow"),
        ({"secret": SECRET, "url": "ftp://example.com/"}, "url"),
        ({"secret": SECRET, "colour": "red"}, "colour"),
        ({"secret": "********"}, "secret"),  # nothing stored to keep
    ]
    for options, field in cases:
        answer = client.put("/api/connectors/webhook", json=options, headers=admin)
        assert answer.status_code == 422, (options, answer.text)
        assert answer.json()["field"] == field, answer.json()
    assert client.put("/api/connectors/nope", json={}, headers=admin).status_code == 404
    assert client.put("/api/connectors/webhook", content=b"{", headers=admin).status_code == 400
    assert client.get("/api/connectors", headers=admin).json()["connectors"][2]["configured"] is False
    assert services.connectors.version() == 0


def test_routes_are_checked_and_apply_without_a_restart(
    client: TestClient[Litestar], admin: dict[str, str], services: Services, tiny: Path
) -> None:
    def routes(body: dict) -> dict:
        return client.put("/api/connectors/routes", json=body, headers=admin).json()

    assert routes({"coupon": "tiny"})["field"] == "coupon"  # not configured yet
    client.put("/api/connectors/tiny", json={"path": str(tiny), "token": "t0ken"}, headers=admin)
    refused = routes({"invite": "tiny"})
    assert (refused["field"], refused["message"]) == (
        "invite",
        "invite: connector `tiny` cannot make `invite` deliveries",
    )
    assert routes({"parcel": "tiny"})["field"] == "parcel"
    client.put("/api/connectors/webhook", json={"secret": SECRET}, headers=admin)
    no_url = routes({"webhook": "webhook", "coupon": "webhook"})
    assert (no_url["field"], "options" in no_url["message"]) == ("coupon", True)  # no endpoint url
    assert routes({"coupon": "nobody"})["field"] == "coupon"
    assert services.connectors.routes() == {}

    # A dispatcher opened before the route was set takes it at its next batch.
    dispatcher = open_dispatcher(services.store, services.clock, settings=services.connectors)
    services.engine.save_draft(coupon_and_message_flow())
    services.engine.publish("signup")
    client.post("/api/events", json=signup("e-1", "m-1"), headers=admin)
    assert dispatcher.drain().recorded == 2

    done = routes({"coupon": "tiny", "message": "tiny"})
    assert done["routes"] == {"coupon": "tiny", "message": "tiny"} and done["delivering"] is True
    client.post("/api/events", json=signup("e-2", "m-2"), headers=admin)
    assert dispatcher.drain().sent == 2
    lines = tiny.read_text().splitlines()
    assert sorted(line.split()[1:] for line in lines) == [
        ["coupon", "m-2", "t0ken"],
        ["message", "m-2", "t0ken"],
    ]
    statuses = {(d["member"], d["kind"]): d["status"] for d in services.store.deliveries()}
    assert statuses == {
        ("m-1", "coupon"): "recorded",
        ("m-1", "message"): "recorded",
        ("m-2", "coupon"): "sent",
        ("m-2", "message"): "sent",
    }


@pytest.mark.parametrize("role", ["operator", "viewer", "ingest"])
def test_only_admins_reach_the_connectors(
    client: TestClient[Litestar], services: Services, role: str, tiny: Path
) -> None:
    token = bearer(services.accounts.create_token(role, services.now_us())[1])
    assert client.get("/api/connectors", headers=token).status_code == 403
    assert client.put("/api/connectors/webhook", json={"secret": SECRET}, headers=token).status_code == 403
    assert client.put("/api/connectors/routes", json={}, headers=token).status_code == 403
    assert client.get("/admin/connectors", headers=token).status_code == 403
    assert services.connectors.version() == 0


def test_pages_say_nothing_is_sent_until_a_connector_is_routed(
    client: TestClient[Litestar], admin: dict[str, str], services: Services, tiny: Path
) -> None:
    services.engine.save_draft(coupon_and_message_flow())
    services.engine.publish("signup")
    client.post("/api/events", json=signup("e-1", "m-1"), headers=admin)
    open_dispatcher(services.store, services.clock, settings=services.connectors).drain()

    operator = bearer(services.accounts.create_token("operator", services.now_us())[1])
    for path in ("/flows", "/runs", "/members/m-1", "/flows/signup"):
        page = client.get(path, headers=operator)
        assert page.status_code == 200, path
        assert "未连接：投递只记录，不发送" in page.text, path
        assert 'href="/admin/connectors"' not in page.text  # the link is for admins
    timeline = client.get("/members/m-1", headers=operator).text
    assert "已记录（未发送）" in timeline and "已发送" not in timeline
    assert "未连接：投递只记录，不发送" in client.get("/flows", headers=admin).text
    assert 'href="/admin/connectors"' in client.get("/flows", headers=admin).text
    api = client.get("/api/members/m-1", headers=operator).json()["timeline"]
    assert {e["status"] for e in api if e["kind"] == "delivery"} == {"recorded"}

    client.put("/api/connectors/tiny", json={"path": str(tiny), "token": "t0ken"}, headers=admin)
    client.put("/api/connectors/routes", json={"message": "tiny"}, headers=admin)
    assert "未连接" not in client.get("/flows", headers=operator).text


def test_the_connectors_page_configures_options_routes_and_the_allow_list(
    client: TestClient[Litestar], services: Services, sign_in
) -> None:
    csrf = sign_in("admin")
    page = client.get("/admin/connectors")
    assert page.status_code == 200
    assert "连接器" in page.text and 'name="allow"' in page.text and 'name="route.coupon"' in page.text
    assert "连接器" in client.get("/flows").text  # reachable from the navigation

    form = {"_csrf": csrf, "secret": SECRET, "url": "", "allow": "127.0.0.1/32\n10.0.0.0/8\n", "timeout": "5"}
    answer = client.post("/admin/connectors/webhook", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    options = services.connectors.options("webhook")
    assert (options.secret, options.allow, options.timeout, options.url) == (
        SECRET,
        ["127.0.0.1/32", "10.0.0.0/8"],
        5.0,
        None,
    )
    page = client.get("/admin/connectors").text
    assert SECRET not in page and 'value="********"' in page

    kept = {**form, "secret": "********", "allow": "192.168.0.0/16"}
    client.post("/admin/connectors/webhook", data=kept, follow_redirects=False)
    assert services.connectors.options("webhook").secret == SECRET
    bad = client.post(
        "/admin/connectors/webhook", data={**kept, "timeout": "soon"}, headers={"Accept": "text/html"}
    )
    assert bad.status_code == 422 and "timeout" in bad.text

    routed = client.post(
        "/admin/connectors/routes", data={"_csrf": csrf, "route.webhook": "webhook", "route.coupon": ""}
    )
    assert routed.status_code == 200
    assert services.connectors.routes() == {"webhook": "webhook"}


def test_the_database_file_and_the_key_file_are_private(
    tmp_path: Path, registry: Registry, clock: SimClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUNFLOW_SECRET_KEY")
    database = tmp_path / "private.db"
    services = Services(Store.open(f"sqlite:///{database}"), registry, clock)
    try:
        services.accounts.create_user("admin", "correct horse", "admin", services.now_us())
        key = tmp_path / "qunflow.key"
        assert stat.S_IMODE(os.stat(database).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
        c = t.app_secrets.c
        with services.store.engine.connect() as conn:
            sealed = conn.execute(select(c.value).where(c.name == "signing_key")).scalar_one()
        assert sealed.startswith("fernet:") and services.signing_key.hex() not in sealed
    finally:
        services.close()
    # The next start reads the same key file and the same signing key.
    again = Services(Store.open(f"sqlite:///{database}"), registry, clock)
    try:
        assert again.signing_key == services.signing_key
    finally:
        again.close()


def test_a_plain_signing_key_from_an_older_version_is_sealed_in_place(
    store_url: str, registry: Registry, clock: SimClock
) -> None:
    store = Store.open(store_url)
    plain = "ab" * 32
    with store.transaction() as conn:
        conn.execute(t.app_secrets.insert().values(name="signing_key", value=plain))
    services = Services(store, registry, clock)
    try:
        assert services.signing_key == bytes.fromhex(plain)  # sessions signed before stay valid
        c = t.app_secrets.c
        with store.engine.connect() as conn:
            stored = conn.execute(select(c.value).where(c.name == "signing_key")).scalar_one()
        assert stored != plain and stored.startswith("fernet:")
        assert services.vault.open(stored) == plain
    finally:
        services.close()


class Limit(msgspec.Struct, frozen=True):
    count: int
    per: Literal["day", "week", "month"] = "day"


class NestedOptions(msgspec.Struct, frozen=True):
    corp_id: str
    agent_id: int = 0
    mass_send_limit: Limit = Limit(4, "month")
    tags: list[str] = []


def test_the_page_form_gives_each_part_of_a_nested_option_its_own_field() -> None:
    """A limit with a count and a period is two fields, never JSON to type; a list is lines."""
    schema = options_schema(NestedOptions)
    fields = {f["name"]: f for f in form_fields(schema, None, [])}
    assert "mass_send_limit" not in fields and fields["tags"]["kind"] == "lines"
    assert (fields["mass_send_limit.count"]["kind"], fields["mass_send_limit.count"]["value"]) == (
        "integer",
        4,
    )
    assert fields["mass_send_limit.per"]["value"] == "month"
    form = {
        "corp_id": "ww1",
        "agent_id": "1000002",
        "mass_send_limit.count": "1",
        "mass_send_limit.per": "week",
        "tags": "a\nb",
    }
    assert options_from_form(schema, form) == {
        "corp_id": "ww1",
        "agent_id": 1000002,
        "mass_send_limit": {"count": 1, "per": "week"},
        "tags": ["a", "b"],
    }
    # Both parts left empty: the default applies; a count that is no number names its field.
    empty = {**form, "mass_send_limit.count": "", "mass_send_limit.per": ""}
    assert "mass_send_limit" not in options_from_form(schema, empty)
    with pytest.raises(SettingInvalid, match="count"):
        options_from_form(schema, {**form, "mass_send_limit.count": "many"})
