"""The command line's community data: `qunflow import content.jsonl`, and `simulate --content` /
`--groups` with capacities (DESIGN §15)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from documents import event, flow, node
from test_cli import in_process, no_traceback, write_json, write_lines

from qunflow.engine import Store

SCRIPT = {"id": "welcome-script", "title": "欢迎话术", "text": "{{ member.name }}，欢迎！"}
SENDING = flow(
    "f",
    [node("t", "trigger.member_joined"), node("hello", "action.send_message", content="welcome-script"),
     node("vip", "action.invite_to_group", groups=["vip-1", "vip-2"])],
    [("t", "hello"), ("hello", "vip")],
)  # fmt: skip
EVENTS = [
    event(f"e-{m}", "member_joined", "2026-11-22T10:00:00+08:00", member=m, group="g-1", profile={"name": m})
    for m in ("a", "b")
]


def test_simulate_sends_library_items_and_fills_groups_to_their_capacity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "simulate", "--flow", write_json(tmp_path / "f.json", SENDING),
        "--events", write_lines(tmp_path / "e.jsonl", EVENTS),
        "--content", write_lines(tmp_path / "c.jsonl", [SCRIPT]),
        "--groups", write_lines(tmp_path / "g.jsonl", [{"id": "vip-1", "capacity": 1, "owner": "s-1"}]),
        "--until", "P1D",
    ]  # fmt: skip
    ran = in_process(capsys, *args)
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    hello = [d["payload"] for d in report["deliveries"] if d["node"] == "hello"]
    assert [p["text"] for p in hello] == ["a，欢迎！", "b，欢迎！"]
    assert hello[0]["content"] == {**SCRIPT, "kind": "text"}
    assert [d["payload"]["group"] for d in report["deliveries"] if d["node"] == "vip"] == ["vip-1", "vip-2"]


def test_simulate_refuses_an_item_it_was_not_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["simulate", "--flow", write_json(tmp_path / "f.json", SENDING),
            "--events", write_lines(tmp_path / "e.jsonl", EVENTS), "--until", "P1D"]  # fmt: skip
    ran = in_process(capsys, *args)
    assert (
        ran.returncode == 1
        and "hello: config.content: there is no content item `welcome-script`" in ran.stderr
    )
    no_traceback(ran)
    bad = write_lines(tmp_path / "c.jsonl", [{"id": "x", "title": "t", "kind": "video"}])
    ran = in_process(capsys, *args, "--content", bad)
    assert ran.returncode == 1 and "c.jsonl line 1" in ran.stderr and "media" in ran.stderr
    no_traceback(ran)


def test_import_content_all_or_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'qunflow.db'}"
    poster = {"id": "p", "title": "海报", "kind": "image", "media": {"url": "https://cdn.example.com/p.png"}}
    good = write_lines(tmp_path / "content.jsonl", [SCRIPT, poster])
    ran = in_process(capsys, "import", good, "--db", url)
    assert ran.returncode == 0 and "imported 2 content" in ran.stdout
    broken = {"id": "s3", "title": "t", "text": "{{ oops }}"}
    bad = write_lines(tmp_path / "content-more.jsonl", [{**SCRIPT, "id": "s2"}, broken])
    ran = in_process(capsys, "import", bad, "--db", url)
    assert ran.returncode == 1 and "content-more.jsonl line 2" in ran.stderr and "oops" in ran.stderr
    store = Store.open(url)
    try:
        assert sorted(store.content_index()) == ["p", "welcome-script"]
    finally:
        store.close()
