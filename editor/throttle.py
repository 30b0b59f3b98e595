"""Failed sign-ins, counted so that guessing is slow and nobody can lock someone else out.

Failures are counted per client address and per (client address, user name), never per name alone:
a stranger who types an admin's name wrongly again and again holds back only themselves, and the
admin still signs in from their own machine. An IPv6 client counts by its /64 network, since one
machine can use any address in it.

Memory is bounded: entries whose failures have all left the window are dropped, and when the table
is still full the entries that failed least recently go first, one at a time, so nothing is ever
reset all at once.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict, deque
from collections.abc import Callable


def client_key(address: str) -> str:
    """The client a failure is counted for: the IPv4 address, or the IPv6 address's /64 network."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(parsed) >> 64 << 64, 64)))
    return str(parsed)


class LoginFailures:
    """Recent failed sign-ins (this process). After `per_name` failures of one client for one name
    within `window` seconds, that client may not try that name again until the oldest of them is
    older than `window`; after `per_client` failures of one client over any names, that client may
    not try at all for as long. At most `max_entries` counters are kept."""

    def __init__(
        self,
        per_name: int = 10,
        per_client: int = 50,
        window: float = 600.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_name = per_name
        self.per_client = per_client
        self.window = window
        self.max_entries = max_entries
        self.clock = clock
        # Least recently failed first: expired entries gather at the front.
        self._failures: OrderedDict[tuple[str, ...], deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failures)

    def _keys(self, client: str, name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        key = client_key(client)
        return (key,), (key, name)

    def _full(self, key: tuple[str, ...], limit: int) -> bool:
        times = self._failures.get(key)
        return times is not None and len(times) >= limit and times[0] > self.clock() - self.window

    def blocked(self, client: str, name: str) -> bool:
        by_client, by_name = self._keys(client, name)
        return self._full(by_client, self.per_client) or self._full(by_name, self.per_name)

    def failed(self, client: str, name: str) -> None:
        now = self.clock()
        for key, limit in zip(self._keys(client, name), (self.per_client, self.per_name), strict=True):
            times = self._failures.pop(key, None) or deque(maxlen=limit)
            times.append(now)
            self._failures[key] = times  # now the most recent
        self._prune(now)

    def forget(self, client: str, name: str) -> None:
        """A successful sign-in clears that client's count for that name (not the client's total, so
        one good password does not buy another round of guesses at other names)."""
        self._failures.pop(self._keys(client, name)[1], None)

    def _prune(self, now: float) -> None:
        while self._failures:
            key, times = next(iter(self._failures.items()))
            if times[-1] > now - self.window and len(self._failures) <= self.max_entries:
                return
            del self._failures[key]
