"""What the engine's hot path needs of a store: the contract an in-memory twin could satisfy.

:class:`engine.store.Store` (SQLAlchemy, SQLite or PostgreSQL) is the one implementation. The
engine's batch, community view, scheduler and flow cache are written against these protocols, not
against it, so that a second store — a dict-backed twin for tests, say — needs these methods and
nothing of SQLAlchemy. The rest of `Store` (flow drafts and versions, reports, imports, accounts'
tables) serves the web app and the command line, and is not part of the contract.

The rules every implementation keeps:

- **One transaction per batch.** `transaction()` yields an opaque handle (`Tx`; a SQLAlchemy
  `Connection` here) that the methods taking `conn` use; everything written through it commits or
  rolls back together. Leaving the block by an exception rolls it back; ids reserved in it with
  `allocate` may then be handed out again.
- **Times are integer microseconds since the epoch (UTC).** JSON-ish values (`vars`, event data,
  delivery payloads) are plain dicts and lists.
- **Members and runs come back as `Member` and `Run`,** with `stored` set to the values as stored
  (`engine.store.rows`), so that `write_members` and `write_runs` write only what changed; writing
  clears `dirty` and `is_new`.
- **Order is part of the result.** `claim_due` returns runs by wake time, then `due_seq`, then id;
  `audience_page` and `event_waiting_runs` by id; `claim_schedule` the trigger due first.
- **Locks.** `claim_due`, `take_leased`, `event_waiting_runs` and `lock_members` hold what they
  return until the transaction ends (a store whose writers run one at a time, like SQLite, may
  hold nothing); members are always locked after runs, in id order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..audience import Audience
    from ..content import ContentItem
    from ..goal import GoalJourney
    from ..member import Member
    from ..run import Run

# A transaction handle, opaque to the engine.
Tx = Any
# A flow that members are about to enter, and its re-entry interval in microseconds (None: once).
Entering = tuple[str, int | None]
ScheduleKey = tuple[str, str]


class BatchStore(Protocol):
    """The reads and writes of one step batch, all inside the transaction `conn`."""

    def allocate(self, conn: Tx, name: str, count: int) -> int:
        """Reserve `count` consecutive ids of the sequence `name` ("ids", "events"); the first."""
        ...

    # -- reads -------------------------------------------------------------------------------------

    def load_members(self, conn: Tx, ids: Iterable[str]) -> dict[str, Member]: ...

    def load_groups(self, conn: Tx, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The groups of `ids` that exist: {"id", "name", "kind", "tags", "capacity", "owner"} by id."""
        ...

    def group_sizes(self, conn: Tx) -> dict[str, int]:
        """How many members the store knows in each group."""
        ...

    def group_capacities(self, conn: Tx) -> dict[str, int]:
        """The groups that have a capacity of their own (DESIGN §15), with it."""
        ...

    def load_content(self, conn: Tx, ids: Sequence[str] | None = None) -> dict[str, ContentItem]:
        """The content items of `ids` that exist (default: the whole library), by id."""
        ...

    def staff_limits(self, conn: Tx) -> dict[str, int]:
        """The staff accounts that have a daily friend-request limit of their own, with it."""
        ...

    def entry_history(self, conn: Tx, member_ids: Sequence[str]) -> dict[tuple[str, str], tuple[int, int]]:
        """Per (flow, member): (number of live runs, latest start)."""
        ...

    def load_events(self, conn: Tx, seqs: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Stored events by sequence number, as steps see them (`at` as ISO 8601 text)."""
        ...

    def live_journey_runs(self, conn: Tx, journey: int) -> list[Run]: ...

    def message_times(self, conn: Tx, member_ids: Sequence[str], since: int) -> dict[str, list[int]]:
        """Times of each member's `message` events at or after `since`."""
        ...

    def message_delivery_times(
        self, conn: Tx, member_ids: Sequence[str], since: int
    ) -> dict[str, list[tuple[str, int]]]:
        """(flow, time) of each member's `message` deliveries at or after `since`."""
        ...

    def touch_times(self, conn: Tx, member_ids: Sequence[str], since: int) -> dict[str, list[int]]:
        """Times of each member's touches (member-addressed `message` deliveries made) at or after
        `since`: what the cross-flow touch budget counts (DESIGN §18)."""
        ...

    def deliveries_since(self, conn: Tx, kind: str, since: int) -> list[tuple[int, dict[str, Any]]]:
        """(time, payload) of every delivery of one kind at or after `since`, by time."""
        ...

    def audience_page(
        self,
        conn: Tx,
        audience: Audience,
        now: int,
        after: str,
        limit: int,
        entering: Entering | None = None,
    ) -> tuple[list[Member], str | None]:
        """Members after id `after` that are in the audience, from the next `limit` candidates, and
        the id to go on after (None: no member left). With `entering`, only members that flow's
        re-entry rule lets in now are candidates."""
        ...

    # -- writes ------------------------------------------------------------------------------------

    def insert_events(self, conn: Tx, rows: list[tuple[Any, ...]]) -> None:
        """Rows in the order of `rows.EVENT_COLUMNS`."""
        ...

    def ensure_groups(self, conn: Tx, ids: Sequence[str]) -> None:
        """Groups only seen in events exist from now on (with no name or tags)."""
        ...

    def add_group_members(self, conn: Tx, deltas: Mapping[str, int], known: Set[str] = frozenset()) -> None:
        """Move groups' member counts by `deltas`; groups not `known` to exist are created first."""
        ...

    def write_members(self, conn: Tx, members: Iterable[Member]) -> None: ...

    def write_runs(self, conn: Tx, runs: Iterable[Run]) -> None: ...

    def insert_deliveries(self, conn: Tx, rows: list[tuple[Any, ...]]) -> None:
        """Rows in the order of `rows.DELIVERY_COLUMNS`, or all of them followed by `staff` and
        `notify` (a task's staff member; `waiting` when a run waits to hear how it settles); a key
        already stored is not written again."""
        ...

    def close_tasks(self, conn: Tx, closings: Sequence[tuple[str, int, str, str, str, int | None]]) -> None:
        """Close open staff tasks: (outcome, time, member, flow, node, delivery id or None: every
        open task of that member, flow and node)."""
        ...

    def insert_skipped(self, conn: Tx, rows: list[tuple[Any, ...]]) -> None:
        """Deliveries not made (status `skipped`), rows in the order of `protection.SKIPPED_COLUMNS`."""
        ...

    def connector_version(self, conn: Tx) -> int:
        """The connector settings' version: it changes with every change of settings or routes."""
        ...

    def tag_route(self, conn: Tx) -> str | None:
        """The connector the route for `tag` names, None when there is none."""
        ...

    def add_counts(self, conn: Tx, counts: Mapping[tuple[str, str, str, int], int]) -> None:
        """Add to the node counters, by (flow, node, counter, version)."""
        ...

    # -- goals (DESIGN §16) ------------------------------------------------------------------------

    def open_goals(self, conn: Tx, member_ids: Sequence[str], since: int) -> list[GoalJourney]:
        """The journeys of these members that have not converted and whose window ends at `since`
        or later, by journey."""
        ...

    def goal_runs(self, conn: Tx, member_ids: Sequence[str]) -> list[Run]:
        """The runs of these members whose journey has a goal and has not converted (any status;
        they carry a `path`), by id, locked."""
        ...

    def write_goals(self, conn: Tx, journeys: Iterable[GoalJourney]) -> None:
        """Store new journeys with a goal (`is_new`) and the conversions of stored ones (`dirty`)."""
        ...

    def add_day_counts(self, conn: Tx, counts: Mapping[tuple[str, str, str], int]) -> None:
        """Add to the daily flow counters, by (flow, local day YYYY-MM-DD, counter)."""

    def add_stats(self, conn: Tx, changes: Sequence[tuple[str, str, int, str, float]]) -> None:
        """Move the daily rollups' cells (engine.rollup) by (topic, key, day, metric, delta)."""
        ...


class FlowSource(Protocol):
    """Where the flow cache reads the published flows."""

    def live_flows(self) -> list[tuple[str, int]]:
        """(flow id, live version) of every published flow that is not paused, by id."""
        ...

    def version_document(self, flow_id: str, version: int, conn: Tx | None = None) -> dict[str, Any]:
        """A published version's document (through the transaction `conn`, when inside one)."""
        ...

    def goal_event_types(self) -> list[str]:
        """The goal event types of the journeys that have not converted (DESIGN §16)."""
        ...


class SettingsSource(Protocol):
    """Where a running process reads the community settings (DESIGN §18)."""

    def settings_version(self, conn: Tx) -> int:
        """A number that changes whenever the settings change."""
        ...

    def settings_rows(self, conn: Tx) -> dict[str, str]:
        """The stored settings: field name → JSON text."""
        ...


class EngineStore(BatchStore, FlowSource, SettingsSource, Protocol):
    """Everything the engine's hot path asks of a store: a batch's pieces, the transaction around
    them, the runs and schedules due, and the published flows."""

    def transaction(self) -> AbstractContextManager[Tx]: ...

    def lock_members(self, conn: Tx, ids: Iterable[str]) -> None: ...

    def known_event_ids(self, conn: Tx, ids: Sequence[str]) -> set[str]: ...

    def event_waiting_runs(self, conn: Tx, member_ids: Sequence[str]) -> list[Run]:
        """The runs of these members waiting for an event, by id, locked."""
        ...

    def claim_due(self, conn: Tx, now: int, limit: int) -> list[Run]:
        """Up to `limit` waiting runs due at `now` that no worker holds, in the order they became due."""
        ...

    def lease_due(self, now: int, limit: int, owner: str, until: int) -> list[int]:
        """Lease due runs to `owner` until `until` in a transaction of its own; their ids."""
        ...

    def take_leased(self, conn: Tx, ids: Sequence[int], owner: str, now: int) -> list[Run]:
        """The runs among `ids` still leased to `owner` and due, locked."""
        ...

    def next_wake(self) -> int | None:
        """The earliest wake time of a waiting run."""
        ...

    def schedule_states(self, conn: Tx) -> dict[ScheduleKey, dict[str, Any]]:
        """Every scheduled trigger's state ({"cron", "timezone", "next_fire", "last_fire", "firing",
        "cursor", "flow_id", "node"}) by (flow, node)."""
        ...

    def put_schedule(self, conn: Tx, flow_id: str, node: str, values: Mapping[str, Any]) -> None: ...

    def update_schedule(self, conn: Tx, flow_id: str, node: str, values: Mapping[str, Any]) -> None: ...

    def claim_schedule(self, conn: Tx, keys: Iterable[ScheduleKey], now: int) -> dict[str, Any] | None:
        """The scheduled trigger among `keys` to fire (or go on firing) first at `now`, locked."""
        ...


__all__ = ["BatchStore", "EngineStore", "Entering", "FlowSource", "ScheduleKey", "SettingsSource", "Tx"]
