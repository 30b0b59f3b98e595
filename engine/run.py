"""A run: one member's (or one group's) journey through one flow version. Small, plain, storable."""

from __future__ import annotations

from typing import Any

from .record import REQUIRED, Field, init_function, names

# The one documented state enum.
ACTIVE, WAITING, DONE, EXITED, FAILED = "active", "waiting", "done", "exited", "failed"
# Why a run exited early for its flow's goal settings (DESIGN §16).
GOAL, HOLDOUT = "goal", "holdout"
# A person took the member out of the flow (the runs page, `POST /api/runs/{id}/remove`).
REMOVED = "removed"
STATUSES = (ACTIVE, WAITING, DONE, EXITED, FAILED)
LIVE = (ACTIVE, WAITING)


# A run's fields, declared once, in the order `Run(...)` takes them: those written when the run is
# made, then its state, which steps change. The store's columns and rows are made from them.
IDENTITY: tuple[Field, ...] = (
    Field("id", int, REQUIRED, "bigint"),
    # The first run of a journey; runs forked from it at a node with several successors share it.
    Field("journey", int, REQUIRED, "bigint"),
    Field("flow_id", str, REQUIRED, "string:100"),
    Field("version", int, REQUIRED, "int"),
    Field("member_id", str | None, REQUIRED, "string:200"),
    Field("started_at", int, REQUIRED, "bigint"),
)
STATE: tuple[Field, ...] = (
    Field("node", str, REQUIRED, "string:100"),
    Field("status", str, REQUIRED, "string:10"),
    Field("entered_at", int, REQUIRED, "bigint"),
    # Set only while waiting: the wake time and/or the awaited event type.
    Field("wake_at", int | None, None, "bigint"),
    Field("wait_event", str | None, None, "string:200"),
    # Order in which runs became due at equal wake times.
    Field("due_seq", int | None, None, "bigint"),
    Field("event_seq", int | None, None, "bigint"),
    Field("vars", dict[str, Any] | None, None, "json"),
    Field("ended_at", int | None, None, "bigint"),
    Field("error", str | None, None, "text"),
    # Goals (DESIGN §16), kept only on runs of a flow with one: the node counters the run has added
    # to while its journey had not converted (`node:counter`, e.g. `coupon:entered`,
    # `split:port:a`), and when its journey converted; and why an exited run ended (`goal`,
    # `holdout`), when it ended for one of those.
    Field("path", list[str] | None, None, "json"),
    Field("converted_at", int | None, None, "bigint"),
    Field("reason", str | None, None, "string:20"),
)


class Run:
    """One run. `Run(*IDENTITY, *STATE, is_new=False)`, by position or by name."""

    __slots__ = (*names(IDENTITY), *names(STATE), "is_new", "dirty", "event", "stored")

    # Fields a template may read as `run.<field>`.
    FIELDS = frozenset({"id", "vars", "node", "status"})

    __init__ = init_function(
        [*IDENTITY, *STATE],
        {"is_new": False},
        [
            "self.dirty = is_new",
            # The event that started or last resumed the run, when loaded (for `event.*` paths).
            "self.event = None",
            # The run's columns as the store has them (see engine.store.rows.RUN_COLUMNS), when
            # known: only the columns that differ are written back.
            "self.stored = None",
        ],
    )

    def __repr__(self) -> str:
        return f"<Run {self.id} {self.flow_id}@{self.version} {self.member_id} {self.node} {self.status}>"
