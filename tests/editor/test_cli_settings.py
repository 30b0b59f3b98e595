"""`qunflow simulate --settings S.json`: the community settings of DESIGN §18 in a simulation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from documents import event, flow, node
from test_cli import in_process


def files(tmp_path: Path, settings: object) -> list[str]:
    document = flow(
        "twice",
        [
            node("t", "trigger.event", event="go"),
            node("a", "action.send_message", text="一"),
            node("b", "action.send_message", text="二"),
        ],
        [("t", "a"), ("a", "b")],
        settings={"over_budget": "skip"},
    )
    (tmp_path / "flow.json").write_text(json.dumps(document), encoding="utf-8")
    (tmp_path / "events.jsonl").write_text(json.dumps(event("e-1", "go", "2026-11-22T10:00:00+08:00")) + "\n")
    (tmp_path / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    return [
        "simulate",
        "--flow", str(tmp_path / "flow.json"),
        "--events", str(tmp_path / "events.jsonl"),
        "--settings", str(tmp_path / "settings.json"),
        "--until", "P1D",
        "--out", str(tmp_path / "report.json"),
    ]  # fmt: skip


def test_simulate_applies_the_touch_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ran = in_process(capsys, *files(tmp_path, {"touch_budget": {"messages": 1, "per": "P1D"}}))
    assert ran.returncode == 0, ran.stderr
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert [d["node"] for d in report["deliveries"]] == ["a"]
    assert [(s["node"], s["reason"]) for s in report["skipped"]] == [("b", "budget")]


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"touch_budget": {"messages": 0, "per": "P1D"}}, "touch_budget.messages"),
        ({"touch_budget": {"messages": 1, "per": "someday"}}, "touch_budget.per"),
        ({"calendar": "hk"}, "calendar"),
        ([1, 2], "settings"),
    ],
)
def test_bad_settings_are_one_line_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], settings: object, field: str
) -> None:
    ran = in_process(capsys, *files(tmp_path, settings))
    assert ran.returncode == 1
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and "--settings" in lines[0] and f"{field}:" in lines[0], lines
    assert not (tmp_path / "report.json").exists()
