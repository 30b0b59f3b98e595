"""The flow cache: compiled plans by flow version, and the live flows' triggers by event type.

Plans are immutable and shared by every run on their version; a version is compiled the first time a
run on it is stepped (or when it goes live) and kept for the life of the process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .community_settings import SettingsCache
from .compiler import Plan, PlanNode, compile_flow
from .registry import Registry
from .store.protocol import FlowSource, Tx


class FlowCache:
    """Compiled plans by (flow, version), and the live flows' triggers by event type."""

    def __init__(self, store: FlowSource, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self._plans: dict[tuple[str, int], Plan] = {}
        self._live: dict[str, Plan] = {}
        self._triggers: dict[str, list[tuple[Plan, PlanNode]]] = {}
        self.goal_events: frozenset[str] = frozenset()
        self._asked = False
        # The community settings (DESIGN §18) as this process sees them, re-read when they change.
        self.settings = SettingsCache(store)  # type: ignore[arg-type]
        # The priorities (DESIGN §18) of every version compiled here: the live ones and those of runs
        # this process has stepped.
        self._priorities: set[int] = set()
        self.reload()

    def reload(self) -> None:
        """Re-read which flow versions are live (after a publish, pause or resume)."""
        self._live = {flow_id: self.plan(flow_id, version) for flow_id, version in self.store.live_flows()}
        triggers: dict[str, list[tuple[Plan, PlanNode]]] = {}
        for flow_id in sorted(self._live):
            plan = self._live[flow_id]
            for event_type, nodes in plan.triggers.items():
                triggers.setdefault(event_type, []).extend((plan, node) for node in nodes)
        self._triggers = triggers
        # Event types that may convert a journey (DESIGN §16); batches of other events look no goal
        # up. The stored journeys are asked once, when the process starts (those of older versions
        # and of paused flows); from then on the set only grows with the goals of the flows live at
        # each reload, so a flow paused or replaced since keeps converting its open journeys.
        live = {p.goal.event for p in self._live.values() if p.goal is not None}
        known = self.goal_events if self._asked else frozenset(self.store.goal_event_types())
        self._asked = True
        self.goal_events = frozenset(live | known)

    def plan(self, flow_id: str, version: int, conn: Tx | None = None) -> Plan:
        """The plan of a version, compiled once. Inside a transaction, pass its connection: a version
        not yet compiled (a run on an older one, first met after a restart) is then read through it.
        On SQLite a second connection would wait for the write lock this transaction holds."""
        key = (flow_id, version)
        plan = self._plans.get(key)
        if plan is None:
            document = self.store.version_document(flow_id, version, conn)
            plan = self._plans[key] = compile_flow(document, self.registry, version)
            self._priorities.add(plan.flow.settings.priority)
        return plan

    def priorities_differ(self) -> bool:
        """Whether the flows known here have more than one priority. When they all share one, the
        order of messages at one moment is the order of DESIGN §5 whatever the engine does, so a
        message under the touch budget need not wait for its turn."""
        return len(self._priorities) > 1

    def live_plan(self, flow_id: str) -> Plan | None:
        return self._live.get(flow_id)

    def live_plans(self) -> list[Plan]:
        return [self._live[k] for k in sorted(self._live)]

    @property
    def by_event(self) -> Mapping[str, Sequence[tuple[Plan, PlanNode]]]:
        """The live flows' trigger nodes by the event type that may fire them."""
        return self._triggers


__all__ = ["FlowCache"]
