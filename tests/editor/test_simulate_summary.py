"""`simulate --out`'s one-line summary counts the members who got deliveries (#13.16), not every
member the report knows."""

from __future__ import annotations

import json
import re
from pathlib import Path

from qunflow.editor.cli import main

ROOT = Path(__file__).resolve().parents[2]
FLOW = ROOT / "flows" / "welcome-vip.json"


def test_the_summary_counts_the_members_who_got_deliveries(tmp_path, capsys) -> None:
    at = "2026-11-22T10:00:00+08:00"
    joins = [
        {"id": f"e-{m}", "type": "member_joined", "member": m, "group": "g-fans-1", "at": at}
        for m in ("m-1", "m-2", "m-3")
    ]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in joins))
    (tmp_path / "members.jsonl").write_text(json.dumps({"id": "m-quiet"}) + "\n")
    (tmp_path / "groups.jsonl").write_text(json.dumps({"id": "g-fans-1", "tags": ["fans"]}) + "\n")
    out = tmp_path / "report.json"
    code = main(
        ["simulate", "--flow", str(FLOW), "--events", str(tmp_path / "events.jsonl"),
         "--members", str(tmp_path / "members.jsonl"), "--groups", str(tmp_path / "groups.jsonl"),
         "--until", "P3D", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    report = json.loads(out.read_text())
    reached = {d["member"] for d in report["deliveries"]}
    assert len(report["members"]) == 4 and len(reached) == 3
    line = " ".join(capsys.readouterr().out.split())
    found = re.search(r"(\d+) deliveries .* to (\d+) members", line)
    assert found, line
    assert (int(found.group(1)), int(found.group(2))) == (len(report["deliveries"]), 3)
