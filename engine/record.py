"""Stored fields, declared once: :class:`Field`, and the functions made from a list of them.

A member's and a run's fields are each declared in one tuple (`engine.member.PROFILE`,
`engine.run.STATE`, ...). Everything else is made from it: the class's slots and `__init__`, the
import record, the store's columns and its row mapping, the API's view. Adding a field is one line
there (and a migration).

The functions on the hot path (an object's `__init__`, its values as a row, an object from a row)
are generated once, when the module is imported, as `dataclasses` and `namedtuple` do: the same
code as written out by hand, and as fast, without a second list to keep in step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple, get_args


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


# The default of a field that has none: it must be given.
REQUIRED: Any = _Required()


class Field(NamedTuple):
    """One stored field."""

    name: str
    # The type records and the API carry, constraints included (`Annotated[int, Meta(ge=0)]`).
    type: Any
    # The default (REQUIRED: none); a list or dict default is a fresh empty one each time.
    default: Any = None
    # How a store keeps it: `text`, `string:<length>`, `int`, `bigint`, `float`, `bool`, or `json`
    # (a list or an object as JSON text, NULL when empty).
    column: str = "text"

    @property
    def json(self) -> bool:
        return self.column == "json"

    @property
    def nullable(self) -> bool:
        return self.json or self.default is None or type(None) in get_args(self.type)


def names(fields: Iterable[Field]) -> tuple[str, ...]:
    return tuple(f.name for f in fields)


def generate(name: str, source: str, namespace: dict[str, Any]) -> Callable[..., Any]:
    """Compile one function from its source (a `def` of `name`) in `namespace`."""
    scope = dict(namespace)
    exec(compile(source, f"<qunflow.engine.record {name}>", "exec"), scope)  # noqa: S102 - our own source
    return scope[name]


def init_function(
    fields: Sequence[Field], keywords: dict[str, Any], after: Sequence[str]
) -> Callable[..., None]:
    """An `__init__(self, *fields, **keywords)` that sets each of them (a list or dict field left at
    its default gets a fresh empty one), then runs the `after` lines."""
    params: list[str] = []
    body: list[str] = []
    for f in fields:
        if f.default is REQUIRED:
            params.append(f.name)
            body.append(f"    self.{f.name} = {f.name}")
        elif isinstance(f.default, list | dict):
            params.append(f"{f.name}=None")
            empty = "[]" if isinstance(f.default, list) else "{}"
            body.append(f"    self.{f.name} = {f.name} if {f.name} is not None else {empty}")
        else:
            params.append(f"{f.name}={f.default!r}")
            body.append(f"    self.{f.name} = {f.name}")
    params += [f"{k}={v!r}" for k, v in keywords.items()]
    body += [f"    self.{k} = {k}" for k in keywords]
    body += [f"    {line}" for line in after]
    source = f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body) + "\n"
    return generate("__init__", source, {})


__all__ = ["REQUIRED", "Field", "generate", "init_function", "names"]
