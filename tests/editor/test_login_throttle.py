"""Login throttling: per client and per (client, name), never per name alone; bounded memory.

The counter is tested directly, then through a real server on loopback with two client addresses
(127.0.0.1 and 127.0.0.2), as a stranger and an admin would reach it.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from browser_server import OPERATOR, running_server

from qunflow.editor.throttle import LoginFailures, client_key

STRANGER, ADMIN = "203.0.113.9", "198.51.100.7"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_stranger_holds_back_only_themselves() -> None:
    failures = LoginFailures(clock=Clock())
    for _ in range(10):
        failures.failed(STRANGER, "admin")

    assert failures.blocked(STRANGER, "admin")
    assert not failures.blocked(ADMIN, "admin")
    assert not failures.blocked(STRANGER, "lin")


def test_one_client_guessing_many_names_is_held_back_everywhere() -> None:
    failures = LoginFailures(clock=Clock())
    for index in range(50):
        failures.failed(STRANGER, f"user-{index}")

    assert failures.blocked(STRANGER, "admin")
    assert not failures.blocked(ADMIN, "admin")


def test_the_hold_ends_when_the_oldest_failure_leaves_the_window() -> None:
    clock = Clock()
    failures = LoginFailures(clock=clock)
    for _ in range(10):
        failures.failed(STRANGER, "admin")
        clock.now += 1
    clock.now = 1000.0 + 600 - 0.5
    assert failures.blocked(STRANGER, "admin")
    clock.now = 1000.0 + 600 + 0.5
    assert not failures.blocked(STRANGER, "admin")


def test_a_good_password_clears_that_name_only() -> None:
    failures = LoginFailures(per_client=12, clock=Clock())
    for _ in range(9):
        failures.failed(STRANGER, "lin")
    failures.forget(STRANGER, "lin")
    failures.failed(STRANGER, "lin")
    assert not failures.blocked(STRANGER, "lin")
    for _ in range(2):
        failures.failed(STRANGER, "ann")
    assert failures.blocked(STRANGER, "anyone")  # 12 failures from this client in all


def test_memory_is_bounded_and_never_reset_at_once() -> None:
    clock = Clock()
    failures = LoginFailures(max_entries=100, clock=clock)
    for _ in range(10):
        failures.failed(STRANGER, "admin")
    for index in range(1000):
        failures.failed(f"10.0.{index // 250}.{index % 250}", "admin")
        assert len(failures) <= 100
        if index < 40:
            # The stranger's counters are the oldest; until they are the ones to go, they hold.
            assert failures.blocked(STRANGER, "admin")
    assert failures.blocked("10.0.3.249", "admin") is False  # one failure is not a hold
    assert len(failures) == 100


def test_expired_entries_are_dropped() -> None:
    clock = Clock()
    failures = LoginFailures(clock=clock)
    for index in range(100):
        failures.failed(f"10.0.0.{index}", "admin")
    clock.now += 601
    failures.failed(STRANGER, "admin")
    assert len(failures) == 2  # the stranger's two counters


def test_ipv6_clients_count_by_their_64_network() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    failures = LoginFailures(clock=Clock())
    for index in range(10):
        failures.failed(f"2001:db8:1:2::{index + 1}", "admin")
    assert failures.blocked("2001:db8:1:2::ffff", "admin")
    assert not failures.blocked("2001:db8:1:3::1", "admin")


# -- through a real server -----------------------------------------------------------------------------


def _attempt(base: str, source: str, name: str, password: str) -> int:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=base, transport=transport) as client:
        page = client.get("/login")
        match = re.search(r'name="_csrf" value="([^"]+)"', page.text)
        assert match
        form = {"username": name, "password": password, "_csrf": match.group(1), "next": "/"}
        return client.post("/login", data=form).status_code


def test_a_stranger_cannot_lock_a_user_out_from_elsewhere(tmp_path: Path) -> None:
    name, password = OPERATOR
    try:
        with running_server(tmp_path / "q.db") as base:
            stranger = [_attempt(base, "127.0.0.2", name, "guess") for _ in range(11)]
            assert stranger == [401] * 10 + [429]
            assert _attempt(base, "127.0.0.2", name, password) == 429  # held back, even when right
            assert _attempt(base, "127.0.0.1", name, password) == 303  # the user signs in
    except httpx.ConnectError as error:  # pragma: no cover - a host without 127.0.0.2
        pytest.skip(f"cannot use 127.0.0.2 as a source address here: {error}")
