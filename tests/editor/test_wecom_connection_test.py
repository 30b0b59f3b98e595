"""测试连接 for the WeCom connector: `POST /api/connectors/wecom/test` and the button on the connectors
page, against the fake WeCom over loopback: a working connection, an untrusted IP (60020) with what to
fix, and connectors that offer no test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_helpers import bearer
from litestar import Litestar
from litestar.testing import TestClient

from qunflow.editor.app import create_app
from qunflow.editor.services import Services
from qunflow.engine import Registry, SimClock, Store
from qunflow.engine.connectors.wecom.fake import FakeWecom
from qunflow.engine.connectors.wecom.ledger import Ledger, SendRow
from qunflow.engine.member import Member

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture
def fake() -> Iterator[FakeWecom]:
    with FakeWecom() as fake:
        fake.add_staff("zhangsan")
        fake.add_staff("lisi")
        yield fake


@pytest.fixture
def services(store_url: str, registry: Registry, clock: SimClock) -> Iterator[Services]:
    services = Services(Store.open(store_url), registry, clock)
    yield services
    services.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(services, worker=False)) as client:
        yield client


@pytest.fixture
def admin(services: Services) -> dict[str, str]:
    return bearer(services.accounts.create_token("admin", services.now_us())[1])


def configure(client: TestClient[Litestar], admin: dict[str, str], fake: FakeWecom) -> None:
    options = {
        "corp_id": fake.corp_id,
        "secret": fake.secret,
        "agent_id": fake.agent_id,
        "token": "callback-token",
        "encoding_aes_key": AES_KEY,
        "api_base": fake.url,
    }
    answer = client.put("/api/connectors/wecom", json=options, headers=admin)
    assert answer.status_code == 200, answer.text


def test_a_working_connection_says_so(
    client: TestClient[Litestar], admin: dict[str, str], fake: FakeWecom
) -> None:
    configure(client, admin, fake)

    answer = client.post("/api/connectors/wecom/test", headers=admin)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ok": True, "message": answer.json()["message"]}
    assert "连接成功" in answer.json()["message"] and "2 名员工" in answer.json()["message"]
    assert [c.api for c in fake.calls] == ["gettoken", "user/list_id"]


def test_an_untrusted_ip_says_what_to_fix(
    client: TestClient[Litestar], admin: dict[str, str], fake: FakeWecom
) -> None:
    configure(client, admin, fake)
    fake.trusted_ips = {"203.0.113.7"}

    answer = client.post("/api/connectors/wecom/test", headers=admin).json()

    assert answer["ok"] is False
    assert "企业可信IP" in answer["message"] and "127.0.0.1" in answer["message"]
    assert fake.secret not in answer["message"]


def test_a_wrong_secret_fails_the_test(
    client: TestClient[Litestar], admin: dict[str, str], fake: FakeWecom
) -> None:
    configure(client, admin, fake)
    client.put(
        "/api/connectors/wecom",
        json={
            "corp_id": fake.corp_id,
            "secret": "not-the-secret",
            "agent_id": fake.agent_id,
            "token": "********",
            "encoding_aes_key": "********",
            "api_base": fake.url,
        },
        headers=admin,
    )

    answer = client.post("/api/connectors/wecom/test", headers=admin).json()
    assert answer["ok"] is False and "40001" in answer["message"]
    assert "not-the-secret" not in answer["message"]


def test_connectors_without_a_test_or_not_configured_are_refused(
    client: TestClient[Litestar], admin: dict[str, str], services: Services
) -> None:
    unconfigured = client.post("/api/connectors/wecom/test", headers=admin)
    assert unconfigured.status_code in (400, 422) and "wecom" in unconfigured.text
    no_test = client.post("/api/connectors/recording/test", headers=admin)
    assert no_test.status_code in (400, 422) and "测试连接" in no_test.text
    assert client.post("/api/connectors/nothing/test", headers=admin).status_code == 404
    operator = bearer(services.accounts.create_token("operator", services.now_us())[1])
    assert client.post("/api/connectors/wecom/test", headers=operator).status_code == 403


def test_the_connectors_page_has_a_test_button_that_shows_the_result(
    client: TestClient[Litestar], admin: dict[str, str], fake: FakeWecom, sign_in
) -> None:
    configure(client, admin, fake)
    csrf = sign_in("admin")
    page = client.get("/admin/connectors").text
    assert 'action="/admin/connectors/wecom/test"' in page and "测试连接" in page
    assert 'action="/admin/connectors/webhook/test"' not in page  # the webhook connector has no test

    fake.trusted_ips = {"203.0.113.7"}
    answer = client.post("/admin/connectors/wecom/test", data={"_csrf": csrf})

    assert answer.status_code == 200, answer.text
    assert 'id="connector-wecom-tested"' in answer.text and "企业可信IP" in answer.text


def test_the_member_page_shows_the_mass_sends_of_the_period(
    client: TestClient[Litestar], admin: dict[str, str], fake: FakeWecom, services: Services
) -> None:
    services.store.put_members([Member(id="m-1")])
    assert "已群发" not in client.get("/members/m-1", headers=admin).text  # WeCom not routed yet

    configure(client, admin, fake)
    assert client.put("/api/connectors/routes", json={"message": "wecom"}, headers=admin).status_code == 200
    now = services.now_us()
    Ledger(services.store).begin(
        [SendRow("run-1:send:1", "mass", "m-1", "m-1", "zhangsan", "b1", None, "calling", now)]
    )

    page = client.get("/members/m-1", headers=admin).text
    assert "今日已群发（企业微信）" in page and ">1/1<" in page
