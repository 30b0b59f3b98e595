"""`qunflow validate` and `qunflow simulate` as a user runs them: exit codes, output lines, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from documents import event, flow, node

from qunflow.editor.cli import main

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "flows" / "welcome-vip.json"
EXAMPLE_EVENTS = ROOT / "flows" / "examples" / "welcome-vip.events.jsonl"
EXAMPLE_GROUPS = ROOT / "flows" / "examples" / "welcome-vip.groups.jsonl"


def qunflow(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qunflow.editor.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


class Ran:
    """What an in-process `main(argv)` call gave: the same fields as a finished subprocess."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def in_process(capsys: pytest.CaptureFixture[str], *args: str | Path) -> Ran:
    """Run the command in this process (fast, for the many variants); raising anything is a failure."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exit:  # argparse's usage errors
        code = int(exit.code or 0)
    out = capsys.readouterr()
    return Ran(code, out.out, out.err)


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def write_lines(path: Path, items: list[Any]) -> Path:
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    return path


def no_traceback(result: subprocess.CompletedProcess[str] | Ran) -> None:
    assert "Traceback" not in result.stdout + result.stderr


# -- validate ---------------------------------------------------------------------------------------


def test_validate_a_good_flow_prints_ok(tmp_path: Path) -> None:
    result = qunflow("validate", TEMPLATE, cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")


def test_validate_a_good_flow_as_json_prints_an_empty_list(tmp_path: Path) -> None:
    result = qunflow("validate", "--json", TEMPLATE, cwd=tmp_path)
    assert result.returncode == 0
    assert json.loads(result.stdout) == []


BROKEN = flow(
    "broken",
    [
        node("t", "trigger.member_joined"),
        node("w", "wait.delay", duration="soon"),
        node("x", "action.nope"),
        node("island", "action.add_tag", tags=["x"]),
    ],
    [("t", "w"), ("t", "x"), ("t", "true", "x")],
)
BROKEN_LINES = {
    "w: config.duration: ",
    "x: type: ",
    "t: edges[2].port: ",
    "island: -: ",
}


def test_validate_prints_one_problem_a_line_and_exits_1(tmp_path: Path) -> None:
    result = qunflow("validate", write_json(tmp_path / "f.json", BROKEN), cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == len(BROKEN_LINES)
    for prefix in BROKEN_LINES:
        assert sum(line.startswith(prefix) and len(line) > len(prefix) for line in lines) == 1, (
            prefix,
            lines,
        )
    no_traceback(result)


def test_validate_json_lists_node_path_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = in_process(capsys, "validate", "--json", write_json(tmp_path / "f.json", BROKEN))
    assert result.returncode == 1
    problems = json.loads(result.stdout)
    assert all(set(p) == {"node", "path", "message"} for p in problems)
    assert {f"{p['node']}: {p['path'] or '-'}: " for p in problems} == BROKEN_LINES


def test_validate_a_flow_level_problem_names_the_flow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = flow("f", [node("a", "action.add_tag", tags=["x"])])
    result = in_process(capsys, "validate", write_json(tmp_path / "f.json", doc))
    assert result.returncode == 1
    assert result.stdout.startswith("flow: nodes: ")


def test_validate_garbage_gives_one_line_on_stderr(tmp_path: Path) -> None:
    path = tmp_path / "garbage.json"
    path.write_bytes(b"garbage{")
    result = qunflow("validate", path, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "garbage.json" in result.stderr
    no_traceback(result)


@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00", b'{"id": "f", "nodes": [}'])
@pytest.mark.parametrize("as_json", [False, True])
def test_validate_garbage_variants(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, as_json: bool
) -> None:
    path = tmp_path / "garbage.json"
    path.write_bytes(content)
    result = in_process(capsys, "validate", *(["--json"] if as_json else []), path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "garbage.json" in result.stderr
    no_traceback(result)


def test_validate_a_json_document_that_is_not_a_flow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = in_process(capsys, "validate", write_json(tmp_path / "f.json", [1, 2]))
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 1
    no_traceback(result)


def test_validate_a_missing_file(tmp_path: Path) -> None:
    result = qunflow("validate", tmp_path / "nope.json", cwd=tmp_path)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "nope.json" in result.stderr
    no_traceback(result)


def test_a_usage_error_exits_2(tmp_path: Path) -> None:
    result = qunflow("validate", cwd=tmp_path)
    assert result.returncode == 2
    assert "usage" in result.stderr.lower()
    no_traceback(result)


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--bogus", "f.json"],
        ["frobnicate"],
        [],
        ["simulate", "--events", "e.jsonl", "--until", "P1D"],
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    result = in_process(capsys, *args)
    assert result.returncode == 2
    assert "usage" in result.stderr.lower()
    no_traceback(result)


def test_the_console_script_is_installed(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "qunflow"
    if not script.exists():
        pytest.skip("no qunflow script beside this Python")
    result = subprocess.run(
        [script, "validate", TEMPLATE], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout) == (0, "ok\n")


# -- simulate ---------------------------------------------------------------------------------------


def test_simulate_twice_gives_byte_identical_reports(tmp_path: Path) -> None:
    outs = []
    for name in ("a.json", "b.json"):
        result = qunflow(
            "simulate",
            "--flow",
            TEMPLATE,
            "--events",
            EXAMPLE_EVENTS,
            "--groups",
            EXAMPLE_GROUPS,
            "--until",
            "P7D",
            "--out",
            tmp_path / name,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    report = json.loads(outs[0])
    assert set(report) == {"deliveries", "members", "runs", "nodes"}
    assert report["nodes"]["welcome-vip"]["joined"] >= 1


def test_simulate_without_out_prints_the_report(tmp_path: Path) -> None:
    events = write_lines(
        tmp_path / "e.jsonl",
        [event("e1", "member_joined", "2026-11-22T10:00:00+08:00", member="m-1", group="g-fans-1")],
    )
    groups = write_lines(tmp_path / "g.jsonl", [{"id": "g-fans-1", "tags": ["fans"]}])
    result = qunflow(
        "simulate", "--flow", TEMPLATE, "--events", events, "--groups", groups, "--until", "P2D", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["deliveries"][0]["kind"] == "coupon"
    assert report["deliveries"][0]["at"] == "2026-11-23T10:00:00+08:00"


def test_simulate_bad_until_exits_1_with_one_line(tmp_path: Path) -> None:
    result = qunflow(
        "simulate", "--flow", TEMPLATE, "--events", EXAMPLE_EVENTS, "--until", "soon", cwd=tmp_path
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--until" in result.stderr
    no_traceback(result)


@pytest.mark.parametrize("until", ["2026-12-01", "2026-12-01T00:00:00", "PXD", "P"])
def test_simulate_bad_until(capsys: pytest.CaptureFixture[str], until: str) -> None:
    result = in_process(capsys, "simulate", "--flow", TEMPLATE, "--events", EXAMPLE_EVENTS, "--until", until)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "--until" in lines[0]
    no_traceback(result)


GOOD_LINE = json.dumps(event("e1", "member_joined", "2026-11-22T10:00:00+08:00", group="g"))


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("not json", ["line 3"]),
        ('{"id": "x", "type": "message"}', ["line 3", "at"]),
        (
            '{"id": "x", "type": "member_joined", "at": "2026-11-22T10:00:00", "member": "m", "group": "g"}',
            ["line 3"],
        ),
        (
            '{"id": "x", "type": "purchase", "at": "2026-11-22T10:00:00+08:00", "member": "m", '
            '"data": {"amount": -5}}',
            ["line 3", "data.amount"],
        ),
        ('{"id": "x", "type": "message", "at": "2026-11-22T10:00:00+08:00"}', ["line 3", "member"]),
        (
            '{"id": "x", "type": "message", "at": "2026-11-22T10:00:00+08:00", "member": "m", "colour": 1}',
            ["line 3", "colour"],
        ),
    ],
)
def test_simulate_bad_event_lines_name_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str, words: list[str]
) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text(GOOD_LINE + "\n\n" + bad + "\n", encoding="utf-8")
    result = in_process(capsys, "simulate", "--flow", TEMPLATE, "--events", events, "--until", "P1D")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    for word in words:
        assert word in lines[0]
    no_traceback(result)


def test_simulate_an_invalid_flow_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_json(tmp_path / "f.json", BROKEN)
    result = in_process(capsys, "simulate", "--flow", bad, "--events", EXAMPLE_EVENTS, "--until", "P1D")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "w: config.duration" in result.stderr
    no_traceback(result)


@pytest.mark.parametrize("document", [[1, 2], 3, "a flow"])
def test_simulate_a_flow_file_that_is_not_an_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], document: Any
) -> None:
    path = write_json(tmp_path / "f.json", document)
    result = in_process(capsys, "simulate", "--flow", path, "--events", EXAMPLE_EVENTS, "--until", "P1D")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    no_traceback(result)


def test_simulate_an_unwritable_out_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "missing" / "report.json"
    result = in_process(
        capsys, "simulate", "--flow", TEMPLATE, "--events", EXAMPLE_EVENTS, "--until", "P1D", "--out", out
    )
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--out" in result.stderr
    no_traceback(result)


@pytest.mark.parametrize("which", ["flow", "events", "members", "groups"])
def test_simulate_missing_or_garbage_inputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str
) -> None:
    garbage = tmp_path / "garbage"
    garbage.write_text("{nope\n", encoding="utf-8")
    paths = {"flow": TEMPLATE, "events": EXAMPLE_EVENTS, "members": None, "groups": None}
    for path in (garbage, tmp_path / "missing"):
        chosen = {**paths, which: path}
        args: list[str | Path] = ["simulate", "--until", "P1D"]
        for key, value in chosen.items():
            if value is not None:
                args += [f"--{key}", value]
        result = in_process(capsys, *args)
        assert result.returncode == 1, (which, path, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
        assert path.name in result.stderr
        no_traceback(result)


def test_simulate_a_cron_only_flow_from_start_with_no_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = TEMPLATE.parent / "morning-evening-post.json"
    groups = TEMPLATE.parent / "examples" / "morning-evening-post.groups.jsonl"
    events = write_lines(tmp_path / "none.jsonl", [])
    out = tmp_path / "r.json"
    result = in_process(
        capsys,
        "simulate",
        "--flow",
        template,
        "--events",
        events,
        "--groups",
        groups,
        "--start",
        "2026-11-22T07:00:00+08:00",
        "--until",
        "P1D",
        "--out",
        out,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    # Until 07:00 the next day: the 08:00 and 21:00 posts of the 22nd, to each of the two fans groups.
    posts = [(d["at"], d["node"], d["payload"]["group"]) for d in report["deliveries"]]
    assert posts == [
        ("2026-11-22T08:00:00+08:00", "morning_post", "g-fans-1"),
        ("2026-11-22T08:00:00+08:00", "morning_post", "g-fans-2"),
        ("2026-11-22T21:00:00+08:00", "evening_post", "g-fans-1"),
        ("2026-11-22T21:00:00+08:00", "evening_post", "g-fans-2"),
    ]


def test_simulate_start_after_the_first_event_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    result = in_process(
        capsys,
        "simulate",
        "--flow",
        TEMPLATE,
        "--events",
        EXAMPLE_EVENTS,
        "--start",
        "2030-01-01T00:00:00+08:00",
        "--until",
        "P1D",
    )
    assert result.returncode == 1
    assert "--start" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    no_traceback(result)
