"""The store's reads and writes for goals and holdouts (DESIGN §16): journeys with a goal, the runs
whose path a conversion attributes, and the daily flow counters. A mixin of
:class:`engine.store.Store`; the methods that take `conn` are pieces of a step batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from ..goal import GoalJourney
from ..run import Run
from . import schema as t
from .driver import DriverStore
from .rows import RUN_FIELDS, run_from_values

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine as SAEngine

# The columns of `goal_journeys`, in the order of `GoalJourney.row`.
GOAL_COLUMNS = ("journey", "flow_id", "version", "member_id", "event", "started_at", "until", "holdout")
GOAL_COLUMNS += ("converted_at",)
_OPEN_GOALS_SQL = (
    "SELECT " + ", ".join(GOAL_COLUMNS) + " FROM goal_journeys "
    "WHERE converted_at IS NULL AND until >= {mark} AND member_id IN ({{ids}}) ORDER BY journey"
)
# Runs whose journey has a goal and has not converted: only those carry a path.
_GOAL_RUNS_SQL = (
    "SELECT " + ", ".join(RUN_FIELDS) + " FROM runs WHERE path IS NOT NULL AND member_id IN ({ids})"
)


class GoalStore(DriverStore):
    engine: SAEngine
    dialect: str

    def open_goals(self, conn: Connection, member_ids: Sequence[str], since: int) -> list[GoalJourney]:
        """The journeys of these members that have not converted and whose window ends at `since`
        or later, by journey."""
        sql = _OPEN_GOALS_SQL.format(mark=self._mark)
        return [GoalJourney.from_row(row) for row in self._select_in(conn, sql, list(member_ids), (since,))]

    def goal_runs(self, conn: Connection, member_ids: Sequence[str]) -> list[Run]:
        """The runs of these members whose journey has a goal and has not converted (any status),
        by id, locked."""
        sql = _GOAL_RUNS_SQL + (" ORDER BY id FOR UPDATE" if self.dialect == "postgresql" else " ORDER BY id")
        return [run_from_values(row) for row in self._select_in(conn, sql, list(member_ids))]

    def write_goals(self, conn: Connection, journeys: Iterable[GoalJourney]) -> None:
        """Store new journeys with a goal, and the conversions of stored ones."""
        new, converted = [], []
        for journey in journeys:
            if journey.is_new:
                new.append(journey.row())
            elif journey.dirty:
                converted.append((journey.converted_at, journey.journey))
            journey.is_new = journey.dirty = False
        self._bulk(conn, "goal_journeys", GOAL_COLUMNS, new)
        self._bulk_update(conn, "goal_journeys", ("converted_at",), converted, key="journey")

    def add_day_counts(self, conn: Connection, counts: Mapping[tuple[str, str, str], int]) -> None:
        """Add to the daily flow counters, by (flow, local day, counter)."""
        self._bulk(
            conn,
            "flow_days",
            ("flow_id", "day", "counter", "value"),
            [(f, d, c, v) for (f, d, c), v in sorted(counts.items())],
            " ON CONFLICT (flow_id, day, counter) DO UPDATE SET value = flow_days.value + excluded.value",
        )

    def goal_event_types(self) -> list[str]:
        """The goal event types of the journeys that have not converted."""
        c = t.goal_journeys.c
        with self.engine.connect() as conn:
            return list(conn.execute(select(c.event).where(c.converted_at.is_(None)).distinct()).scalars())

    # -- reading back ---------------------------------------------------------------------------------

    def day_counts(self, first: str, last: str) -> dict[str, dict[str, int]]:
        """{flow: {counter: total}} over the local days `first` to `last` (YYYY-MM-DD, both included)."""
        c = t.flow_days.c
        found: dict[str, dict[str, int]] = {}
        stmt = select(c.flow_id, c.counter, c.value).where(c.day >= first, c.day <= last)
        with self.engine.connect() as conn:
            for flow_id, counter, value in conn.execute(stmt):
                counters = found.setdefault(flow_id, {})
                counters[counter] = counters.get(counter, 0) + value
        return found

    def goal_journeys(self, flow_id: str) -> list[dict[str, Any]]:
        """A flow's journeys with a goal, by journey (tests and audits; not for pages)."""
        c = t.goal_journeys.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.goal_journeys).where(c.flow_id == flow_id).order_by(c.journey))
            return [dict(r._mapping) for r in rows]


__all__ = ["GOAL_COLUMNS", "GoalStore"]
