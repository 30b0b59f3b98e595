"""Field paths, comparisons and message templates: the only "language" a flow has.

Paths are dotted names (`member.points`, `event.data.amount`, `run.vars.score`). Nothing is ever
evaluated: a template placeholder is a path or it renders empty, and no attribute of a Python object
is reached except the documented member fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Annotated, Any, Literal, get_args

from msgspec import Meta

from .config import Config
from .member import Member

MEMBER_FIELDS = Member.FIELDS
EVENT_FIELDS = frozenset({"id", "type", "channel", "group", "member", "at", "data"})
OPEN_FIELDS = {("member", "attributes"), ("event", "data"), ("run", "vars")}

FieldPath = Annotated[
    str, Meta(pattern=r"^[a-z_]+(\.[A-Za-z0-9_\-]+)*$", extra_json_schema={"format": "field-path"})
]
Template = Annotated[str, Meta(max_length=4000, extra_json_schema={"format": "template"})]
# The stored value is the id; the editor says each in words (format `comparison-op`: 不少于 for gte).
Op = Annotated[
    Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists"],
    Meta(extra_json_schema={"format": "comparison-op"}),
]
OPS: tuple[str, ...] = get_args(get_args(Op)[0])

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.S)
_PATH = re.compile(r"^[a-z_]+(\.[A-Za-z0-9_\-]+)*$")


class Comparison(Config):
    field: FieldPath
    op: Op = "eq"
    value: Any = None


def path_problem(path: str) -> str | None:
    """Why a field path can never resolve, or None when it can."""
    if not _PATH.match(path):
        return f"`{path}` is not a dotted field path"
    parts = path.split(".")
    root = parts[0]
    if root in EVENT_FIELDS and root != "member" and not (root == "group" and len(parts) > 1):
        # `where` filters may name the event's own fields directly: `data.amount`, `channel`.
        # (`group.<field>` is the group itself, as templates see it.)
        return path_problem("event." + path)
    if root == "member":
        known = MEMBER_FIELDS
    elif root == "event":
        known = EVENT_FIELDS
    elif root == "run":
        known = frozenset({"vars"})
    elif root == "group":
        known = frozenset({"id", "name", "tags", "kind", "capacity", "owner"})
    else:
        return f"`{path}` starts with `{root}`; use member., event., group. or run."
    if len(parts) < 2 or parts[1] not in known:
        return f"`{path}`: unknown field; known: {', '.join(sorted(known))}"
    if (root, parts[1]) in OPEN_FIELDS and len(parts) < 3:
        return f"`{path}` needs a key after `{parts[1]}`"
    if (root, parts[1]) not in OPEN_FIELDS and len(parts) > 2:
        return f"`{path}`: `{parts[1]}` has no fields"
    return None


def template_problems(text: str) -> list[str]:
    problems = [
        problem
        for inner in _PLACEHOLDER.findall(text)
        if (problem := path_problem(inner.strip())) is not None
    ]
    rest = _PLACEHOLDER.sub("", text)
    if "{{" in rest:
        # `{{ member.points }` would be sent as it is: the member would see the braces.
        start = rest.index("{{")
        problems.append(f"`{rest[start : start + 30].strip()}`: a placeholder is not closed with }}}}")
    return problems


def resolve(path: str, scope: Mapping[str, Any]) -> Any:
    """The value at a dotted path, or None when any part is missing."""
    return _resolve_parts(path.split("."), scope)


def _resolve_parts(parts: Sequence[str], scope: Mapping[str, Any]) -> Any:
    value: Any = scope.get(parts[0])
    for part in parts[1:]:
        if value is None:
            return None
        # Only the fields a scope object exposes by name are reachable; never dunder or methods.
        fields = getattr(type(value), "FIELDS", None)
        if fields is not None:
            value = getattr(value, part) if part in fields else None
        elif isinstance(value, Mapping):
            value = value.get(part)
        else:
            return None
    return value


def render(template: str, scope: Mapping[str, Any], escape: Callable[[str], str] | None = None) -> str:
    """Fill `{{ dotted.path }}` placeholders; anything else in braces renders empty. `escape`, when
    given, is applied to each placeholder's text (never to the template's own text)."""
    if "{{" not in template:
        return template
    out = []
    for piece in _pieces(template):
        if type(piece) is str:
            out.append(piece)
            continue
        value = _resolve_parts(piece, scope)
        if value is None:
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = "、".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
        out.append(text if escape is None else escape(text))
    return "".join(out)


@lru_cache(maxsize=4096)
def _pieces(template: str) -> tuple[str | tuple[str, ...], ...]:
    """A template parsed once: literal text, and the parts of each placeholder's path (a placeholder
    that is not a path renders empty, so it is left out)."""
    pieces: list[str | tuple[str, ...]] = []
    end = 0
    for match in _PLACEHOLDER.finditer(template):
        pieces.append(template[end : match.start()])
        inner = match.group(1).strip()
        if _PATH.match(inner):
            pieces.append(tuple(inner.split(".")))
        end = match.end()
    pieces.append(template[end:])
    return tuple(p for p in pieces if p != "")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def compare(op: str, left: Any, right: Any) -> bool:
    """Apply a comparison operator; mismatched types compare false, never raise."""
    if op == "exists":
        present = left is not None and left != "" and left != []
        return present if right in (None, True) else not present
    if op == "eq":
        return left == right or (_number(left) is not None and _number(left) == _number(right))
    if op == "ne":
        return not compare("eq", left, right)
    if op == "in":
        return isinstance(right, list | tuple) and any(compare("eq", left, item) for item in right)
    if op == "contains":
        if isinstance(left, str):
            return isinstance(right, str) and right in left
        if isinstance(left, list | tuple):
            return any(compare("eq", item, right) for item in left)
        return False
    a, b = _number(left), _number(right)
    if a is None or b is None:
        if isinstance(left, str) and isinstance(right, str):
            a, b = left, right  # type: ignore[assignment]
        else:
            return False
    if op == "gt":
        return a > b
    if op == "gte":
        return a >= b
    if op == "lt":
        return a < b
    if op == "lte":
        return a <= b
    return False


def holds(where: Comparison | list[Comparison] | None, scope: Mapping[str, Any]) -> bool:
    """True when every comparison in `where` holds (an absent filter always holds)."""
    if where is None:
        return True
    items = where if isinstance(where, list) else [where]
    return all(compare(c.op, resolve(c.field, scope), c.value) for c in items)
