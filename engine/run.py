"""A run: one member's (or one group's) journey through one flow version. Small, plain, storable."""

from __future__ import annotations

from typing import Any

# The one documented state enum.
ACTIVE, WAITING, DONE, EXITED, FAILED = "active", "waiting", "done", "exited", "failed"
STATUSES = (ACTIVE, WAITING, DONE, EXITED, FAILED)
LIVE = (ACTIVE, WAITING)


class Run:
    __slots__ = (
        "id",
        "journey",
        "flow_id",
        "version",
        "member_id",
        "node",
        "status",
        "entered_at",
        "wake_at",
        "wait_event",
        "due_seq",
        "event_seq",
        "vars",
        "started_at",
        "ended_at",
        "error",
        "is_new",
        "dirty",
        "event",
        "stored",
    )

    # Fields a template may read as `run.<field>`.
    FIELDS = frozenset({"id", "vars", "node", "status"})

    def __init__(
        self,
        id: int,
        journey: int,
        flow_id: str,
        version: int,
        member_id: str | None,
        node: str,
        status: str,
        entered_at: int,
        started_at: int,
        wake_at: int | None = None,
        wait_event: str | None = None,
        due_seq: int | None = None,
        event_seq: int | None = None,
        vars: dict[str, Any] | None = None,
        ended_at: int | None = None,
        error: str | None = None,
        is_new: bool = False,
    ) -> None:
        self.id = id
        self.journey = journey
        self.flow_id = flow_id
        self.version = version
        self.member_id = member_id
        self.node = node
        self.status = status
        self.entered_at = entered_at
        self.started_at = started_at
        self.wake_at = wake_at
        self.wait_event = wait_event
        self.due_seq = due_seq
        self.event_seq = event_seq
        self.vars = vars
        self.ended_at = ended_at
        self.error = error
        self.is_new = is_new
        self.dirty = is_new
        # The event that started or last resumed the run, when loaded (for `event.*` paths).
        self.event: Any = None
        # The run's columns as the store has them (see engine.store.rows.RUN_COLUMNS), when known:
        # only the columns that differ are written back.
        self.stored: tuple[Any, ...] | None = None

    def __repr__(self) -> str:
        return f"<Run {self.id} {self.flow_id}@{self.version} {self.member_id} {self.node} {self.status}>"
