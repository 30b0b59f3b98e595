"""Goals and holdouts (DESIGN §16, a contract), as one step batch keeps them.

A journey of a flow with a goal is watched from its start: an event of the goal's type for its
member, arriving after the start and dated no later than `within` after it, converts it, once. The
counters the journey's runs passed until then (their `path`) are counted again as converted, and
from then on every counter they pass is counted twice at once; so each node's and each port's
conversion is kept as the engine runs, never computed by scanning. With the goal's `exit`, the
journey's live runs end there (`exited`, reason `goal`).

A stable hash of (flow, member) puts the flow's `holdout` share of entering members in its control
group: their run starts and exits at once (reason `holdout`), and their journey is watched too.

Counters: flow-wide ones go under the node `""` of `node_counts` (`entered`, `converted`,
`holdout:entered`, `holdout:converted`); per node, `converted` beside `entered` and
`converted:port:<port>` beside `port:<port>`; each under the version of the journey. The same
flow-wide ones per local day of the start go to `flow_days`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .clock import from_us
from .fields import holds
from .run import EXITED, GOAL, LIVE, Run

if TYPE_CHECKING:
    from .compiler import CounterKey, Plan

# The node under which a flow's own counters are kept (no node id is empty).
FLOW = ""
ENTERED, CONVERTED = "entered", "converted"
HOLDOUT_ENTERED, HOLDOUT_CONVERTED = "holdout:entered", "holdout:converted"


def converted_counter(counter: str) -> str:
    """The counter that counts converted runs beside `counter`: `entered` → `converted`,
    `port:a` → `converted:port:a`."""
    return CONVERTED if counter == ENTERED else CONVERTED + ":" + counter


class GoalJourney:
    """One journey of a flow with a goal: its window, whether it was held out, when it converted."""

    __slots__ = (
        "converted_at",
        "dirty",
        "event",
        "flow_id",
        "holdout",
        "is_new",
        "journey",
        "member_id",
        "started_at",
        "until",
        "version",
    )

    def __init__(
        self,
        journey: int,
        flow_id: str,
        version: int,
        member_id: str,
        event: str,
        started_at: int,
        until: int,
        holdout: bool,
        converted_at: int | None = None,
        is_new: bool = False,
    ) -> None:
        self.journey, self.flow_id, self.version, self.member_id = journey, flow_id, version, member_id
        self.event, self.started_at, self.until, self.holdout = event, started_at, until, holdout
        self.converted_at = converted_at
        self.is_new = is_new
        self.dirty = False

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> GoalJourney:
        """From the columns of `engine.store.goals.GOAL_COLUMNS`, in that order."""
        journey, flow_id, version, member_id, event, started_at, until, holdout, converted_at = row
        return cls(
            journey, flow_id, version, member_id, event, started_at, until, bool(holdout), converted_at
        )

    def row(self) -> tuple[Any, ...]:
        return (
            self.journey,
            self.flow_id,
            self.version,
            self.member_id,
            self.event,
            self.started_at,
            self.until,
            self.holdout,
            self.converted_at,
        )


class Goals:
    """A batch's goal bookkeeping: the journeys it watches, by (member, event type), the stored runs
    of those journeys, and the daily counters. `batch` is the :class:`engine.batch.Batch`."""

    def __init__(self, batch: Any) -> None:
        self.batch = batch
        self.counts: Counter[CounterKey] = batch.counts
        self.days: Counter[tuple[str, str, str]] = Counter()
        self._watching: dict[tuple[str, str], list[GoalJourney]] = {}
        self._journeys: list[GoalJourney] = []
        # Stored runs of watched journeys not yet taken into the batch, by journey.
        self._stored: dict[int, list[Run]] = {}
        self._day: tuple[Any, int, str] = (None, -1, "")

    # -- loading -------------------------------------------------------------------------------------

    def watch(self, journeys: Iterable[GoalJourney], runs: Iterable[Run]) -> None:
        """Stored journeys that events of this batch may convert, and their runs (stored, locked)."""
        for journey in journeys:
            self._add(journey)
        for run in runs:
            self._stored.setdefault(run.journey, []).append(run)

    def _add(self, journey: GoalJourney) -> None:
        self._journeys.append(journey)
        key = (journey.member_id, journey.event)
        found = self._watching.get(key)
        if found is None:
            self._watching[key] = [journey]
        else:
            found.append(journey)

    # -- as runs start and move ----------------------------------------------------------------------

    def started(self, plan: Plan, run: Run, held_out: bool) -> None:
        """A journey started: count it (per day too), and watch it if its flow has a goal."""
        now = run.started_at
        day = self.day(plan, now)
        if held_out:
            self.days[(plan.flow.id, day, HOLDOUT_ENTERED)] += 1
        else:
            self.days[(plan.flow.id, day, ENTERED)] += 1
        goal = plan.goal
        if goal is None or run.member_id is None:
            return
        self.counts[(plan.flow.id, FLOW, HOLDOUT_ENTERED if held_out else ENTERED, plan.version)] += 1
        until = now + goal.within // _MICROSECOND
        self._add(
            GoalJourney(
                run.journey,
                plan.flow.id,
                plan.version,
                run.member_id,
                goal.event,
                now,
                until,
                held_out,
                is_new=True,
            )
        )

    def passed(self, run: Run, key: CounterKey) -> None:
        """A run of a flow with a goal added to the counter `key`."""
        if run.converted_at is not None:
            self.counts[(key[0], key[1], converted_counter(key[2]), key[3])] += 1
        elif run.path is None:
            run.path = [key[1] + ":" + key[2]]
        else:
            run.path.append(key[1] + ":" + key[2])

    def day(self, plan: Plan, at: int) -> str:
        """The local date (flow's timezone) of `at`, as YYYY-MM-DD; the last one is kept, since a
        batch starts its journeys at one moment."""
        tz, last, text = self._day
        if tz is plan.tz and last == at:
            return text
        text = from_us(at).astimezone(plan.tz).date().isoformat()
        self._day = (plan.tz, at, text)
        return text

    # -- events --------------------------------------------------------------------------------------

    def observe(self, event_type: str, view: dict[str, Any], member: Any, at: int) -> None:
        """An event for `member` (after it updated the member, before it starts or resumes runs):
        convert the watched journeys it meets the goal of."""
        journeys = self._watching.get((member.id, event_type))
        if not journeys:
            return
        scope = {**view, "event": view, "member": member, "run": {"vars": {}}}
        for journey in journeys:
            if journey.converted_at is not None or at > journey.until:
                continue
            plan = self.batch.flows.plan(journey.flow_id, journey.version, self.batch.conn)
            if plan.goal is not None and holds(plan.goal.where, scope):
                self.convert(plan, journey, at)

    def convert(self, plan: Plan, journey: GoalJourney, at: int) -> None:
        batch = self.batch
        journey.converted_at = at
        journey.dirty = True
        flow_id = plan.flow.id
        counter = HOLDOUT_CONVERTED if journey.holdout else CONVERTED
        self.counts[(flow_id, FLOW, counter, plan.version)] += 1
        self.days[(flow_id, self.day(plan, journey.started_at), counter)] += 1
        leave = plan.goal is not None and plan.goal.exit
        for run in self._journey_runs(journey.journey):
            for step in run.path or ():
                node, _, passed = step.partition(":")
                self.counts[(flow_id, node, converted_counter(passed), plan.version)] += 1
            run.path = None
            run.converted_at = at
            run.dirty = True
            if leave and run.status in LIVE:
                batch.end_early(run, EXITED, GOAL)

    def _journey_runs(self, journey: int) -> list[Run]:
        """The journey's runs: those the batch holds, and the stored ones it takes in now."""
        runs = self.batch.runs
        found = [r for r in runs.values() if r.journey == journey]
        for run in self._stored.pop(journey, ()):
            if run.id not in runs:
                runs[run.id] = run
                found.append(run)
        return found

    # -- writing -------------------------------------------------------------------------------------

    def flush(self, store: Any, conn: Any) -> None:
        if self._journeys:
            store.write_goals(conn, [j for j in self._journeys if j.is_new or j.dirty])
        if self.days:
            store.add_day_counts(conn, self.days)


_MICROSECOND = timedelta(microseconds=1)

__all__ = ["FLOW", "GoalJourney", "Goals", "converted_counter"]
