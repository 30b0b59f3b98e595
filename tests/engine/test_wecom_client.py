"""The WeCom API client against the fake WeCom over real HTTP on loopback: the token cache, the typed
errors, the backoff on rate limits, and that no secret reaches a log line."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from qunflow.engine.connectors.wecom.client import WecomApi
from qunflow.engine.connectors.wecom.errors import IpNotTrusted, RateLimited, WelcomeCodeUsed
from qunflow.engine.connectors.wecom.fake import FakeWecom


class Clock:
    """Seconds since the epoch that a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_780_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake_clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(fake_clock: Clock) -> Iterator[FakeWecom]:
    with FakeWecom(clock=fake_clock) as fake:
        fake.add_staff("zhangsan", "张三")
        yield fake


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def api(fake: FakeWecom, slept: list[float]) -> Iterator[WecomApi]:
    client = WecomApi(fake.corp_id, fake.secret, fake.url, sleep=slept.append)
    yield client
    client.close()


def test_many_threads_needing_a_token_at_once_share_one_gettoken(fake: FakeWecom, api: WecomApi) -> None:
    threads = 16
    start = threading.Barrier(threads)
    found: list[list[str]] = []

    def work() -> None:
        start.wait()
        found.append(api.list_user_ids())

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert found == [["zhangsan"]] * threads
    assert len(fake.calls_to("gettoken")) == 1
    assert len(fake.calls_to("user/list_id")) == threads


def test_an_expired_token_is_replaced_once_and_the_call_tried_again(fake: FakeWecom, api: WecomApi) -> None:
    api.list_user_ids()
    fake.expire_tokens()

    assert api.list_user_ids() == ["zhangsan"]
    assert [c.errcode for c in fake.calls_to("user/list_id")] == [0, 42001, 0]
    assert len(fake.calls_to("gettoken")) == 2


def test_an_unknown_token_is_replaced_too(fake: FakeWecom, api: WecomApi) -> None:
    api.list_user_ids()
    fake.fail_next("user/list_id", 40014)

    assert api.list_user_ids() == ["zhangsan"]
    assert len(fake.calls_to("gettoken")) == 2


def test_a_rate_limited_call_is_tried_again_after_a_growing_backoff(
    fake: FakeWecom, api: WecomApi, slept: list[float]
) -> None:
    fake.fail_next("user/list_id", 45009, times=2)

    assert api.list_user_ids() == ["zhangsan"]
    assert slept == [1.0, 2.0]


def test_a_call_still_rate_limited_after_the_backoff_fails_retryably(
    fake: FakeWecom, api: WecomApi, slept: list[float]
) -> None:
    fake.fail_next("user/list_id", 45009, times=10)

    with pytest.raises(RateLimited) as failed:
        api.list_user_ids()
    assert failed.value.retryable and slept == [1.0, 2.0, 4.0]


def test_an_untrusted_ip_says_what_to_fix(fake: FakeWecom, api: WecomApi) -> None:
    fake.trusted_ips = {"203.0.113.7"}

    with pytest.raises(IpNotTrusted) as refused:
        api.list_user_ids()
    message = str(refused.value)
    assert "企业可信IP" in message and "127.0.0.1" in message and refused.value.ip == "127.0.0.1"


def test_a_welcome_code_works_once(fake: FakeWecom, api: WecomApi) -> None:
    code = fake.issue_welcome_code("wm-1", "zhangsan")
    api.send_welcome_msg(code, "欢迎！")

    with pytest.raises(WelcomeCodeUsed) as again:
        api.send_welcome_msg(code, "欢迎！")
    assert not again.value.retryable
    assert [w["text"] for w in fake.welcomes] == [{"content": "欢迎！"}]


def test_a_welcome_code_expires_after_twenty_seconds(
    fake: FakeWecom, api: WecomApi, fake_clock: Clock
) -> None:
    code = fake.issue_welcome_code("wm-1", "zhangsan")
    fake_clock.now += 21

    with pytest.raises(WelcomeCodeUsed):
        api.send_welcome_msg(code, "欢迎！")
    assert fake.welcomes == []


def test_no_secret_or_token_reaches_the_logs(
    fake: FakeWecom, api: WecomApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # whatever a demo before set it to
    api.list_user_ids()
    token = api.token()

    assert "HTTP Request" in caplog.text  # httpx logged its requests, masked
    assert fake.secret not in caplog.text and token not in caplog.text
    assert fake.secret not in repr(api) and token not in repr(api)


def test_a_server_that_is_not_there_is_a_retryable_failure() -> None:
    client = WecomApi("wwcorp", "secret-value", "http://127.0.0.1:9", timeout=2)
    with pytest.raises(Exception) as failed:
        client.list_user_ids()
    assert getattr(failed.value, "retryable", False) and "secret-value" not in str(failed.value)


def test_the_clients_of_one_corp_in_a_process_share_its_rate_limit() -> None:
    # The worker's dispatcher and the fast lane each open the connector: their calls count together.
    first = WecomApi("ww-shared", "secret-a", "http://127.0.0.1:9")
    second = WecomApi("ww-shared", "secret-b", "http://127.0.0.1:9")
    other = WecomApi("ww-other", "secret-a", "http://127.0.0.1:9")
    try:
        assert first.limiter is second.limiter
        assert other.limiter is not first.limiter
    finally:
        for api in (first, second, other):
            api.close()
