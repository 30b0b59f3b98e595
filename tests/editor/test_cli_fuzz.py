"""The command line's parsers under generated garbage (#13.6): `validate`, `simulate` and `import`
answer every input with exit 0 or 1 and one clear line, never a traceback. Run in-process through
`main([...])`, so an exception escaping a command fails the test with the input that caused it."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qunflow.editor.cli import main

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "flows").glob("*.json"))
FLOW = ROOT / "flows" / "welcome-vip.json"
FUZZ = settings(
    max_examples=int(os.environ.get("QUNFLOW_FUZZ_EXAMPLES", "60")),  # more to hunt, fewer for CI
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# -- strategies ----------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["", "P1D", "PT0S", "P99999999D", "once", "always", "regex", "00:00", "24:61", "\x00"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
offsets = st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23)).map(
    lambda d: timezone(timedelta(minutes=d // timedelta(minutes=1)))
)
moments = st.one_of(
    st.datetimes(timezones=offsets).map(lambda d: d.isoformat()),
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)).map(
        lambda d: d.isoformat()
    ),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-12:00", "2026-13-01T00:00:00Z", ""]),
    st.datetimes().map(lambda d: d.isoformat()),  # no offset
)
EVENT_TYPES = ["member_joined", "member_left", "message", "purchase", "task_completed", "contact_added", "x"]


@st.composite
def flows(draw: st.DrawFn) -> Any:
    """A template with some of its parts replaced by arbitrary JSON, or arbitrary JSON outright."""
    if draw(st.integers(0, 4)) == 0:
        return draw(json_values)
    document = json.loads(draw(st.sampled_from(TEMPLATES)).read_text(encoding="utf-8"))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["config", "settings", "timezone", "edge", "node"]))
        if where == "config" and document["nodes"]:
            node = draw(st.sampled_from(document["nodes"]))
            key = draw(st.sampled_from([*node.get("config", {}), "extra"]))
            node.setdefault("config", {})[key] = draw(json_values)
        elif where == "settings":
            document["settings"] = draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "reentry": json_values,
                        "quiet_hours": json_values,
                        "frequency_cap": st.fixed_dictionaries(
                            {"messages": st.integers(-5, 2**64), "per": json_values}
                        ),
                    },
                )
            )
        elif where == "timezone":
            document["timezone"] = draw(st.sampled_from(["UTC", "Nowhere/City", "", "../etc", "Asia/Tokyo"]))
        elif where == "edge" and document["edges"]:
            draw(st.sampled_from(document["edges"]))["port"] = draw(json_values)
        elif document["nodes"]:
            draw(st.sampled_from(document["nodes"]))["type"] = draw(json_values)
    return document


events = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=6), "type": st.sampled_from(EVENT_TYPES), "at": moments},
    optional={
        "member": st.text(max_size=6),
        "group": st.text(max_size=6),
        "data": st.fixed_dictionaries(
            {},
            optional={
                "amount": st.one_of(
                    st.floats(), st.integers(min_value=-(2**80), max_value=2**80), json_values
                ),
                "text": st.text(max_size=20),
                "outcome": st.sampled_from(["done", "skipped", "maybe"]),
            },
        ),
        "profile": json_values,
    },
)
member_fields = {
    "name": json_values,
    "tags": st.lists(st.text(max_size=5), max_size=3),
    "attributes": json_values,
    "groups": st.lists(st.text(max_size=5), max_size=3),
    "points": st.integers(min_value=-(2**70), max_value=2**70),
    "total_spend": st.one_of(st.floats(), st.integers(min_value=0, max_value=2**70)),
    "order_count": st.integers(min_value=-1, max_value=2**40),
    "grade": st.sampled_from(["S", "A", "Z", None]),
    "stage": st.sampled_from(["member", "koc", "nobody"]),
    "blacklisted": json_values,
}
members = st.fixed_dictionaries({"id": st.text(max_size=6)}, optional=member_fields)
cells = st.one_of(
    st.text(max_size=10), st.integers(min_value=-(2**70), max_value=2**70).map(str), st.just("1e400")
)

# -- running -------------------------------------------------------------------------------------------


@contextmanager
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def lines(items: list[Any]) -> str:
    return "".join(json.dumps(i, ensure_ascii=False, allow_nan=True) + "\n" for i in items)


def clean_exit(capsys: pytest.CaptureFixture[str], *args: str | Path) -> int:
    """`main(args)` ended with 0 or 1 and printed no traceback; an escaping exception fails the test."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exit:
        code = exit.code  # argparse: not expected for these well-formed command lines
    out = capsys.readouterr()
    assert code in (0, 1), (code, out.err)
    assert "Traceback" not in out.out + out.err
    if code == 1:
        assert out.err.strip() or out.out.strip(), "a refusal says why"
    return code


# -- the tests -----------------------------------------------------------------------------------------


@FUZZ
@given(document=flows())
def test_validate_answers_any_flow(capsys, document) -> None:
    with folder() as here:
        path = here / "flow.json"
        path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        clean_exit(capsys, "validate", path)
        clean_exit(capsys, "validate", "--json", path)


@FUZZ
@given(document=flows(), batch=st.lists(events, min_size=1, max_size=4))
def test_simulate_answers_any_flow_and_events(capsys, document, batch) -> None:
    with folder() as here:
        (here / "flow.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        (here / "events.jsonl").write_text(lines(batch), encoding="utf-8")
        clean_exit(
            capsys, "simulate", "--flow", here / "flow.json", "--events", here / "events.jsonl",
            "--until", "P2D", "--out", here / "out.json",
        )  # fmt: skip


@FUZZ
@given(
    batch=st.lists(events, max_size=3),
    until=st.one_of(moments, st.sampled_from(["P30D", "P999999999D", "PT", "P1Y", "x"])),
    start=st.one_of(st.none(), moments),
)
def test_simulate_answers_any_clock_options(capsys, batch, until, start) -> None:
    with folder() as here:
        (here / "events.jsonl").write_text(lines(batch), encoding="utf-8")
        extra = ["--start", start] if start is not None else []
        clean_exit(
            capsys, "simulate", "--flow", FLOW, "--events", here / "events.jsonl", "--until", until, *extra
        )


@FUZZ
@given(rows=st.lists(members, min_size=1, max_size=4))
def test_import_and_simulate_answer_any_member_lines(capsys, rows) -> None:
    with folder() as here:
        path = here / "members.jsonl"
        path.write_text(lines(rows), encoding="utf-8")
        clean_exit(capsys, "import", path, "--db", f"sqlite:///{here / 'q.db'}")
        (here / "events.jsonl").write_text(
            lines(
                [
                    {
                        "id": "e",
                        "type": "member_joined",
                        "member": "m",
                        "group": "g",
                        "at": "2026-11-22T10:00:00+08:00",
                    }
                ]
            ),
            encoding="utf-8",
        )
        clean_exit(
            capsys, "simulate", "--flow", FLOW, "--events", here / "events.jsonl", "--members", path,
            "--until", "P2D",
        )  # fmt: skip


@FUZZ
@given(
    header=st.lists(
        st.sampled_from(["id", *member_fields, "attributes.city", "bogus"]), min_size=1, max_size=5
    ),
    rows=st.lists(st.lists(cells, max_size=6), max_size=4),
)
def test_import_answers_any_csv(capsys, header, rows) -> None:
    import csv
    import io

    text = io.StringIO()
    csv.writer(text).writerows([header, *rows])
    with folder() as here:
        path = here / "members.csv"
        path.write_text(text.getvalue(), encoding="utf-8")
        clean_exit(capsys, "import", path, "--db", f"sqlite:///{here / 'q.db'}")


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_deeply_nested_json_is_one_line(capsys, tmp_path, depth) -> None:
    nested = "[" * depth + "]" * depth
    (tmp_path / "flow.json").write_text(nested)
    (tmp_path / "events.jsonl").write_text(nested + "\n")
    (tmp_path / "members.jsonl").write_text(nested + "\n")
    assert clean_exit(capsys, "validate", tmp_path / "flow.json") == 1
    assert (
        clean_exit(capsys, "simulate", "--flow", tmp_path / "flow.json", "--events", FLOW, "--until", "P1D")
        == 1
    )
    events = tmp_path / "events.jsonl"
    assert clean_exit(capsys, "simulate", "--flow", FLOW, "--events", events, "--until", "P1D") == 1
    assert (
        clean_exit(capsys, "import", tmp_path / "members.jsonl", "--db", f"sqlite:///{tmp_path / 'q.db'}")
        == 1
    )


def test_a_database_in_a_missing_folder_is_one_line(capsys, tmp_path) -> None:
    members = tmp_path / "members.jsonl"
    members.write_text('{"id": "m-1"}\n')
    missing = f"sqlite:///{tmp_path / 'nowhere' / 'q.db'}"
    assert clean_exit(capsys, "import", members, "--db", missing) == 1
    assert clean_exit(capsys, "token", "create", "--role", "admin", "--db", missing) == 1
    assert clean_exit(capsys, "user", "password", "admin", "--db", missing) == 1
    assert clean_exit(capsys, "import", members, "--db", "nosuchdb://x") == 1


def test_points_beyond_the_store_are_one_line(capsys, tmp_path) -> None:
    members = tmp_path / "members.jsonl"
    members.write_text(json.dumps({"id": "m-1", "points": 2**63}) + "\n")
    assert clean_exit(capsys, "import", members, "--db", f"sqlite:///{tmp_path / 'q.db'}") == 1
    csv_file = tmp_path / "members.csv"
    csv_file.write_text(f"id,points\nm-1,{2**63}\n")
    assert clean_exit(capsys, "import", csv_file, "--db", f"sqlite:///{tmp_path / 'q.db'}") == 1


def joining(at: str) -> str:
    return json.dumps({"id": "e", "type": "member_joined", "member": "m", "group": "g", "at": at}) + "\n"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-12:00"])
def test_extreme_dates_are_one_line_naming_the_option_or_field(capsys, tmp_path, moment) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(joining("2026-11-22T10:00:00+08:00"))
    for option in ("--until", "--start"):
        other = ["--until", "P1D"] if option == "--start" else []
        assert clean_exit(capsys, "simulate", "--flow", FLOW, "--events", events, option, moment, *other) == 1
    far = tmp_path / "far.jsonl"
    far.write_text(joining(moment))
    assert clean_exit(capsys, "simulate", "--flow", FLOW, "--events", far, "--until", "P1D") == 1


def test_messages_name_what_is_wrong(capsys, tmp_path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(joining("9999-12-31T23:59:59-12:00"))
    main(["simulate", "--flow", str(FLOW), "--events", str(events), "--until", "P1D"])
    err = capsys.readouterr().err
    assert "line 1" in err and "at:" in err
    members = tmp_path / "members.jsonl"
    members.write_text(json.dumps({"id": "m-1", "points": 2**63}) + "\n")
    events.write_text(joining("2026-11-22T10:00:00Z"))
    args = ["--flow", str(FLOW), "--events", str(events), "--members", str(members), "--until", "P1D"]
    main(["simulate", *args])
    err = capsys.readouterr().err
    assert "points" in err and len(err.strip().splitlines()) == 1
