"""The distribution installs one top-level import package, `qunflow` (DESIGN §2, import names)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERIC = {"engine", "editor", "nodes", "flows", "bench"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
    )
    if build.returncode != 0:
        pytest.skip(f"could not build the wheel here: {build.stderr.strip()[-300:]}")
    (found,) = out.glob("qunflow-*.whl")
    return found


def test_the_wheel_installs_exactly_one_top_level_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        record = next(n for n in archive.namelist() if n.endswith(".dist-info/RECORD"))
        paths = [row[0] for row in csv.reader(io.StringIO(archive.read(record).decode()))]
        entry_points = archive.read(record.replace("RECORD", "entry_points.txt")).decode()
    top = {p.split("/")[0] for p in paths if not p.split("/")[0].endswith(".dist-info")}
    assert top == {"qunflow"}
    # What the app needs at run time travels in the wheel under the one package.
    for needed in (
        "qunflow/engine/migrations/env.py",
        "qunflow/engine/migrations/versions/0001_initial_schema.py",
        "qunflow/flows/welcome-vip.json",
        "qunflow/editor/templates/base.html",
        "qunflow/sdk.py",
    ):
        assert needed in paths, needed
    assert "qunflow.editor.cli:main" in entry_points
    assert "qunflow.nodes:register" in entry_points


def test_a_top_level_engine_from_another_distribution_does_not_break_qunflow(tmp_path: Path) -> None:
    # Another distribution's `engine` (and `editor`) ahead of everything on the path: qunflow never
    # imports them, so validating a flow still works.
    for name in ("engine", "editor"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("raise ImportError('not qunflow')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "qunflow", "validate", str(ROOT / "flows" / "welcome-vip.json")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_importing_from_the_checkout_root_loads_one_copy_of_each_module() -> None:
    # From the repository's root the folders `engine/`, `editor/` … sit on sys.path ('' first); the
    # app must still load each module once, under `qunflow.`.
    probe = (
        "import sys, qunflow.editor.app, qunflow.nodes, qunflow.engine\n"
        f"generic = {sorted(GENERIC)!r}\n"
        "loose = sorted(m for m in sys.modules if m.split('.')[0] in generic)\n"
        "print(loose)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
