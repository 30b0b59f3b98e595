"""The README's code, run as a reader would paste it: every Python block of a section, in order, in
one namespace. A block that no longer works fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks(section: str) -> list[str]:
    """The ```python blocks of the README section with this heading (up to the next `## `)."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end != -1 else len(text)]
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)


@pytest.mark.parametrize("section", ["Hooks", "Writing a node"])
def test_the_readme_examples_run_verbatim(section: str) -> None:
    blocks = python_blocks(section)
    assert blocks, f"the README has no Python example under `{section}`"
    namespace: dict[str, object] = {"__name__": f"readme_{section.lower().replace(' ', '_')}"}
    for block in blocks:
        # dont_inherit: the README is read without this module's `from __future__` imports.
        exec(compile(block, f"README.md ({section})", "exec", dont_inherit=True), namespace)


def test_the_node_example_imports_only_the_sdk() -> None:
    code = "\n".join(python_blocks("Writing a node"))
    imported = set(re.findall(r"^(?:from|import) (qunflow[\w.]*)", code, flags=re.M))
    assert imported == {"qunflow.sdk", "qunflow.testing"}
