"""The user guide (docs/guide.md) and the script that photographs it (docs/screenshots.py) stay in step:
every picture the guide shows is one the script takes and is in the repository, small; and a few of the
script's shots, taken against a real `qunflow serve --demo`, still find what they show."""

from __future__ import annotations

import importlib.util
import re
import struct
import sys
from pathlib import Path
from types import ModuleType

import pytest
from browser_server import chromium_missing

DOCS = Path(__file__).resolve().parents[2] / "docs"
MAX_BYTES = 300 * 1024
# Quick to take, and between them an operator's page, two editor actions and an admin's page.
SAMPLE = "flows,member,publish,testsend,connectors"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("guide_screenshots", DOCS / "screenshots.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG file's header; fails on anything that is not a PNG."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def test_every_picture_of_the_guide_is_a_shot_of_the_script_and_is_in_the_repository() -> None:
    shots = {shot.name for shot in _script().SHOTS}
    shown = set(re.findall(r"\]\(guide/([\w-]+)\.png\)", (DOCS / "guide.md").read_text(encoding="utf-8")))
    assert shown == shots
    pictures = {path.stem: path for path in (DOCS / "guide").glob("*.png")}
    assert set(pictures) == shots
    for path in pictures.values():
        assert png_size(path) == (1400, 900), path.name
        assert path.stat().st_size <= MAX_BYTES, f"{path.name}: {path.stat().st_size // 1024} KB"


def test_an_unknown_shot_name_is_refused_naming_the_shots_there_are() -> None:
    with pytest.raises(SystemExit, match="no shot named nowhere .*flows"):
        _script().chosen("flows,nowhere")


@pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")
def test_the_scripts_shots_still_find_their_pages_on_a_demo_server(tmp_path: Path) -> None:
    script = _script()
    server = tmp_path / "server"
    server.mkdir()
    kept = {path.name: path.stat().st_mtime_ns for path in (DOCS / "guide").glob("*.png")}
    with script.demo_server(server) as base_url:
        written = script.take(base_url, tmp_path / "shots", script.chosen(SAMPLE))
    assert [path.stem for path in written] == SAMPLE.split(",")
    for path in written:
        assert path.parent == tmp_path / "shots"
        assert png_size(path) == (1400, 900)
    # The guide's own pictures are left alone.
    assert {path.name: path.stat().st_mtime_ns for path in (DOCS / "guide").glob("*.png")} == kept
