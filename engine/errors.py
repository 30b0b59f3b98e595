"""One error tree for the whole product.

Every error is a :class:`QunflowError`; its docstring is its default message, and ``retryable`` says
whether trying the same thing again could help. The web layer and the CLI map these to answers in one
place each.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Problem(msgspec.Struct, frozen=True):
    """One thing wrong with a flow, pinned to the node (and config path) it concerns."""

    node: str | None
    path: str
    message: str

    def line(self) -> str:
        return f"{self.node or 'flow'}: {self.path or '-'}: {self.message}"


class QunflowError(Exception):
    """Something went wrong in qunflow."""

    retryable = False

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class UserError(QunflowError):
    """The input is not usable."""


class FlowInvalid(UserError):
    """The flow has problems."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0].line() if problems else ""
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"the flow has problems: {first}{more}")


class EventInvalid(UserError):
    """The event is not valid."""

    def __init__(self, message: str, index: int | None = None, field: str | None = None) -> None:
        self.index = index
        self.field = field
        where = f"event {index}: " if index is not None else ""
        super().__init__(f"{where}{message}")


class NotFound(UserError):
    """No such thing."""


class Conflict(UserError):
    """That cannot be done in the current state."""


def join_path(*parts: Any) -> str:
    """A field path from its parts (`groups`, `[1]`, `capacity` → `groups[1].capacity`)."""
    return ".".join(str(p) for p in parts if p not in ("", None)).replace(".[", "[")


def validation_message(error: msgspec.ValidationError) -> tuple[str, str]:
    """Split msgspec's "message - at `$.a.b[0]`" into (path "a.b[0]", message)."""
    text = str(error)
    message, sep, where = text.rpartition(" - at `")
    if not sep:
        return "", text
    path = where.rstrip("`").removeprefix("$").removeprefix(".")
    return path, message
