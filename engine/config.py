"""What node configs are made of: the config base class and the setting types nodes share.

A setting type is a Python type plus msgspec constraints and, where the editor or the validator
should know more than the type says, a JSON Schema `format` (`duration`, `tags`, ...). Node authors
get all of them from `qunflow.sdk`; `Template`, `FieldPath` (`engine.fields`), `FlowRef` and
`TimeOfDay` (`engine.flow`) live beside the code that checks them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

import msgspec
from msgspec import Meta


class Config(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The base of every node config: immutable, and a field it does not declare is an error.

    Subclasses inherit both settings; constraints go on the fields (`Annotated[int, Meta(ge=1)]`),
    checks across fields in `__post_init__` (raise ValueError with the message the operator sees)."""


class NoConfig(Config):
    """The config of a node that has no settings."""


# A name of something outside the flow (a tag, a group, a staff account, a coupon), and a list of them.
Name = Annotated[str, Meta(min_length=1, max_length=200)]
Names = Annotated[list[Name], Meta(extra_json_schema={"format": "tags"})]
# An elapsed time, ISO 8601 in the flow document (`P1D`, `PT2H`).
Duration = Annotated[timedelta, Meta(extra_json_schema={"format": "duration"})]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# A member's growth grade and funnel stage (DESIGN §5).
Grade = Literal["S", "A", "B", "C"]
Stage = Literal["prospect", "customer", "member", "koc"]

__all__ = ["Config", "Duration", "Grade", "Name", "Names", "NoConfig", "Stage", "Weekday"]
