"""Scale-out: a resume storm (every parked run due at once) with 1 and with 4 `qunflow worker`
processes on PostgreSQL, as `qunflow bench --workload scaleout` runs it (`qunflow.bench.scaleout`).
DESIGN §13 budgets 4 workers at 2.5× one; timing is the bench's business, so this asserts only that
every run was stepped exactly once, by whichever worker. Run with `pytest -s` to see the figures."""

from __future__ import annotations

import json
from pathlib import Path

from qunflow.bench.scaleout import measure

RUNS = 10_000


def test_four_workers_against_one_on_a_resume_storm(pg_url: str, tmp_path: Path) -> None:
    report = measure(RUNS, pg_url, tmp_path)

    (tmp_path / "figures.json").write_text(json.dumps(report, indent=2))
    print("\nscale-out resume storm:", json.dumps(report))
    assert report["exactly_once"] is True, report["problems"]
    assert report["one_worker"]["workers"] == 1 and report["four_workers"]["workers"] == 4
