"""qunflow's engine: the flow model, compiler, store, clock and runtime. Knows no node by name."""

from .clock import Clock, RealClock, SimClock
from .compiler import Plan, PlanNode, check, compile_flow
from .config import NoConfig
from .content import ContentItem, ContentRef
from .context import Context
from .engine import Engine, IngestResult, settle
from .errors import EventInvalid, FlowInvalid, NotFound, Problem, QunflowError, UserError
from .event import Event, Profile, decode_event_lines, decode_events
from .fields import Comparison, FieldPath, Template, compare, holds, resolve
from .flow import Flow, FlowRef, TimeOfDay
from .hooks import BatchDone, Hooks, RunFailed
from .member import Member
from .outcome import EXIT, FALSE, NEXT, TRUE, Exit, Fail, Go, Outcome, WaitFor, WaitUntil, branch
from .registry import NodeType, Registry, action, condition, default_registry, trigger, wait
from .store import Store

__all__ = [
    "EXIT",
    "FALSE",
    "NEXT",
    "TRUE",
    "BatchDone",
    "Clock",
    "Comparison",
    "ContentItem",
    "ContentRef",
    "Context",
    "Engine",
    "Event",
    "EventInvalid",
    "Exit",
    "Fail",
    "FieldPath",
    "Flow",
    "FlowInvalid",
    "FlowRef",
    "Go",
    "Hooks",
    "IngestResult",
    "Member",
    "NoConfig",
    "NodeType",
    "NotFound",
    "Outcome",
    "Plan",
    "PlanNode",
    "Problem",
    "Profile",
    "QunflowError",
    "RealClock",
    "Registry",
    "RunFailed",
    "SimClock",
    "Store",
    "Template",
    "TimeOfDay",
    "UserError",
    "WaitFor",
    "WaitUntil",
    "action",
    "branch",
    "check",
    "compare",
    "compile_flow",
    "condition",
    "decode_event_lines",
    "decode_events",
    "default_registry",
    "holds",
    "resolve",
    "settle",
    "trigger",
    "wait",
]
