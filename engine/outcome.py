"""What a step returns: a command for the engine, never an effect of its own."""

from __future__ import annotations

from datetime import datetime


class Outcome:
    """A step's command. Outcomes compare equal when they say the same (tests compare them)."""

    __slots__ = ()

    def _key(self) -> tuple[object, ...]:
        return ()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self._key()))


class Go(Outcome):
    """Leave the node through `port`."""

    __slots__ = ("port",)

    def __init__(self, port: str) -> None:
        self.port = port

    def _key(self) -> tuple[object, ...]:
        return (self.port,)

    def __repr__(self) -> str:
        return f"Go({self.port!r})"


class WaitUntil(Outcome):
    """Stay at the node until `at`; the step is called again then."""

    __slots__ = ("at",)

    def __init__(self, at: datetime) -> None:
        self.at = at

    def _key(self) -> tuple[object, ...]:
        return (self.at,)

    def __repr__(self) -> str:
        return f"WaitUntil({self.at.isoformat()})"


class WaitFor(Outcome):
    """Stay at the node until an `event` of this type comes for the run's member, or `until`.

    The step is called again with the event (`ctx.wake_event`) or, at `until`, without one.
    """

    __slots__ = ("event", "until")

    def __init__(self, event: str, until: datetime | None = None) -> None:
        self.event = event
        self.until = until

    def _key(self) -> tuple[object, ...]:
        return (self.event, self.until)

    def __repr__(self) -> str:
        return f"WaitFor({self.event!r}, until={self.until})"


class Exit(Outcome):
    """End the run here (status `exited`)."""

    __slots__ = ()


class Fail(Outcome):
    """The node cannot go on; the run fails here and can be retried from this node."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def _key(self) -> tuple[object, ...]:
        return (self.reason,)

    def __repr__(self) -> str:
        return f"Fail({self.reason!r})"


NEXT = Go("next")
TRUE = Go("true")
FALSE = Go("false")
EXIT = Exit()


def branch(condition: bool) -> Go:
    """The outcome of a condition node: port `true` or `false`."""
    return TRUE if condition else FALSE
