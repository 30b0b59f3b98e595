"""The node API (DESIGN §10): a config Struct, a function, and a decorator that states the rest.

    class AddTag(Config):
        tags: Names

    @action("action.add_tag", title={"zh": "打标签", "en": "Add tag"}, icon="tag")
    def add_tag(ctx: Context, config: AddTag) -> Outcome:
        ctx.member.add_tags(config.tags)
        return NEXT

The decorator checks the declaration when the module is imported and attaches a :class:`NodeType` to
the function. A package hands its nodes to a :class:`Registry` through the `qunflow.nodes` entry point
group (a callable taking the registry); the built-in nodes come in by the same door.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal

import msgspec

from .errors import QunflowError

Kind = Literal["trigger", "condition", "wait", "action"]
KINDS: tuple[Kind, ...] = ("trigger", "condition", "wait", "action")
DEFAULT_PORTS: dict[str, tuple[str, ...]] = {
    "trigger": ("next",),
    "condition": ("true", "false"),
    "wait": ("next",),
    "action": ("next",),
}
ENTRY_POINT_GROUP = "qunflow.nodes"


class NodeDeclarationError(QunflowError):
    """A node type is declared wrongly."""


Ports = Sequence[str] | Callable[[Any], Sequence[str]]


@dataclass(frozen=True, slots=True)
class NodeType:
    """Everything the engine and the editor know about one node type."""

    type: str
    kind: Kind
    config: type[msgspec.Struct]
    # Actions, conditions and waits: step(ctx, config) -> Outcome.
    # Triggers: step(ctx, config) -> bool, whether `ctx.event` starts a run.
    step: Callable[..., Any]
    title: Mapping[str, str]
    # None: the kind's default ports; a sequence (possibly empty); or a function of the config.
    ports: Ports | None = None
    description: Mapping[str, str] = field(default_factory=dict)
    icon: str = "circle"
    version: int = 1
    # Triggers only: the event types that may start a run, fixed or read from the config.
    on: Sequence[str] | Callable[[Any], Sequence[str]] = ()
    # Scheduled triggers only: the cron expression (flow timezone) read from the config, and
    # optionally the audience (an `engine.audience.Audience` or None): one run per matching member
    # at each fire, or one run with no member when there is no audience.
    schedule: Callable[[Any], str] | None = None
    audience: Callable[[Any], Any] | None = None
    # The node types that may lead into this node directly (empty: any). A node whose effect needs
    # what only the event of such a trigger carries (WeCom's welcome code) says so here, and
    # validation refuses a flow that places it elsewhere.
    after: tuple[str, ...] = ()
    # Actions that send members a message: message(ctx, config) -> (kind, payload), the delivery the
    # step would make for `ctx.member` now, rendered as the step renders it (or a `Fail` saying why
    # there is none). The step itself uses it, and the editor's test send (测试发送) sends what it
    # returns to a chosen member or staff account. None: the node sends no message.
    message: Callable[[Any, Any], Any] | None = None

    def ports_for(self, config: Any) -> tuple[str, ...]:
        if self.ports is None:
            return DEFAULT_PORTS[self.kind]
        return tuple(self.ports(config) if callable(self.ports) else self.ports)

    def events_for(self, config: Any) -> tuple[str, ...]:
        return tuple(self.on(config) if callable(self.on) else self.on)

    def cron_for(self, config: Any) -> str | None:
        return self.schedule(config) if self.schedule is not None else None

    def audience_for(self, config: Any) -> Any:
        return self.audience(config) if self.audience is not None else None

    def describe(self) -> dict[str, Any]:
        """The registry entry served at `GET /api/nodes` and used to build the editor's form."""
        return {
            "type": self.type,
            "kind": self.kind,
            "version": self.version,
            "title": dict(self.title),
            "description": dict(self.description),
            "icon": self.icon,
            "ports": None if callable(self.ports) else list(self.ports_for(None)),
            "dynamic_ports": callable(self.ports),
            "schema": msgspec.json.schema(self.config),
            # Whether its message can be test-sent (`message` is declared).
            "test_send": self.message is not None,
        }


def _config_type(fn: Callable[..., Any], type_id: str) -> type[msgspec.Struct]:
    hints = typing.get_type_hints(fn, globalns=getattr(fn, "__globals__", None))
    config = hints.get("config")
    if not (isinstance(config, type) and issubclass(config, msgspec.Struct)):
        raise NodeDeclarationError(f"{type_id}: the step needs a `config: <msgspec.Struct>` parameter")
    settings = config.__struct_config__
    if not settings.frozen or not settings.forbid_unknown_fields:
        raise NodeDeclarationError(
            f"{type_id}: {config.__name__} must be declared frozen=True, forbid_unknown_fields=True"
        )
    return config


def _declare(kind: Kind) -> Callable[..., Callable[[Callable[..., Any]], Callable[..., Any]]]:
    def decorator(
        type_id: str,
        *,
        title: Mapping[str, str],
        ports: Ports | None = None,
        description: Mapping[str, str] | None = None,
        icon: str = "circle",
        version: int = 1,
        on: Sequence[str] | Callable[[Any], Sequence[str]] = (),
        schedule: Callable[[Any], str] | None = None,
        audience: Callable[[Any], Any] | None = None,
        after: Sequence[str] = (),
        message: Callable[[Any, Any], Any] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        if "." not in type_id or type_id != type_id.strip():
            raise NodeDeclarationError(f"{type_id!r}: type ids look like `vendor.name`")
        if not {"zh", "en"} <= set(title):
            raise NodeDeclarationError(f"{type_id}: titles need both `zh` and `en`")
        if kind == "trigger" and not on and schedule is None:
            raise NodeDeclarationError(
                f"{type_id}: a trigger must say which events it listens to (`on=`) or its `schedule=`"
            )
        if (schedule is not None or audience is not None) and kind != "trigger":
            raise NodeDeclarationError(f"{type_id}: only triggers have a `schedule=` or `audience=`")
        if message is not None and kind != "action":
            raise NodeDeclarationError(f"{type_id}: only actions send a `message=`")

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            fn.node_type = NodeType(  # type: ignore[attr-defined]
                type=type_id,
                kind=kind,
                config=_config_type(fn, type_id),
                step=fn,
                title=dict(title),
                ports=ports if ports is None or callable(ports) else tuple(ports),
                description=dict(description or {}),
                icon=icon,
                version=version,
                on=on if callable(on) else tuple(on),
                schedule=schedule,
                audience=audience,
                after=tuple(after),
                message=message,
            )
            return fn

        return register

    return decorator


trigger = _declare("trigger")
condition = _declare("condition")
wait = _declare("wait")
action = _declare("action")


class Registry:
    """An explicit set of node types, by type id."""

    def __init__(self, node_types: Iterable[NodeType] = ()) -> None:
        self._types: dict[str, NodeType] = {}
        for node_type in node_types:
            self.add(node_type)

    def add(self, item: NodeType | Callable[..., Any]) -> NodeType:
        node_type = item if isinstance(item, NodeType) else getattr(item, "node_type", None)
        if not isinstance(node_type, NodeType):
            raise NodeDeclarationError(f"{item!r} is not a declared node")
        if node_type.type in self._types and self._types[node_type.type] is not node_type:
            raise NodeDeclarationError(f"{node_type.type}: registered twice")
        self._types[node_type.type] = node_type
        return node_type

    def add_module(self, module: types.ModuleType) -> None:
        """Register every declared node found in a module."""
        for value in vars(module).values():
            if isinstance(getattr(value, "node_type", None), NodeType):
                self.add(value)

    def load_entry_points(self) -> None:
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            entry_point.load()(self)

    def get(self, type_id: str) -> NodeType | None:
        return self._types.get(type_id)

    def __contains__(self, type_id: str) -> bool:
        return type_id in self._types

    def __iter__(self) -> typing.Iterator[NodeType]:
        return iter(sorted(self._types.values(), key=lambda t: (KINDS.index(t.kind), t.type)))

    def __len__(self) -> int:
        return len(self._types)

    def copy(self) -> Registry:
        return Registry(self._types.values())


_default: Registry | None = None


def default_registry() -> Registry:
    """The built-ins and every installed node package (loaded once)."""
    global _default
    if _default is None:
        registry = Registry()
        registry.load_entry_points()
        _default = registry
    return _default
