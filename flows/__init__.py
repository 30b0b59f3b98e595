"""Flow templates shipped with qunflow (JSON files beside this module)."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import msgspec


def template_names() -> list[str]:
    return sorted(p.name.removesuffix(".json") for p in files(__name__).iterdir() if p.name.endswith(".json"))


def load_template(name: str) -> dict[str, Any]:
    return msgspec.json.decode(files(__name__).joinpath(f"{name}.json").read_bytes())


def example(name: str) -> str:
    """The path of a bundled example file (`flows/examples/<name>`)."""
    return str(files(__name__).joinpath("examples", name))
