"""What the store can hold and the engine can compute with: the ranges every input is checked against.

Timestamps are kept as microseconds since 1970 in 64-bit columns and moved by durations of up to ten
years (`compiler.MAX_DURATION`); a moment outside EARLIEST..LATEST would overflow Python's datetime
(years 1–9999) or the column somewhere downstream, long after it was accepted. Points and counts go
into 64-bit and 32-bit integer columns, money into a double: the bounds leave room for sums and
keep money exact to the cent.
"""

from __future__ import annotations

from datetime import UTC, datetime

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
MOMENT_RANGE = "1970-01-01 – 9000-01-01 (UTC)"

MAX_POINTS = 10**12
MAX_MONEY = 10**12
MAX_COUNT = 2**31 - 1


def moment_problem(moment: datetime) -> str | None:
    """Why `moment` cannot be taken (in Chinese and English), or None when it can."""
    if EARLIEST <= moment < LATEST:
        return None
    return f"时间超出可用范围 {MOMENT_RANGE} (out of the accepted range)"


__all__ = ["EARLIEST", "LATEST", "MAX_COUNT", "MAX_MONEY", "MAX_POINTS", "MOMENT_RANGE", "moment_problem"]
