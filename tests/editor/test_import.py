"""`qunflow import`: members from CSV or JSON Lines, all of them or none, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from qunflow.editor.cli import main
from qunflow.engine import Engine, Event, SimClock, Store
from qunflow.engine.errors import NotFound

CSV = (
    "\ufeffid,name,tags,groups,points,grade,blacklisted,attributes.city\n"  # a BOM, as spreadsheets write
    "m-1,小林,vip; new ,g-1,10,A,false,上海\n"
    "m-2,小王,,,,,,\n"
    "\n"
    'm-3,"Li, Lei",new,g-1;g-2,0,,1,\n'
)


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_csv_file_creates_members_with_lists_attributes_and_group_sizes(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "members.csv"
    path.write_text(CSV, encoding="utf-8")
    code, out, err = run(capsys, "import", path, "--db", store_url)
    assert (code, err) == (0, "")
    assert "imported 3 members" in out
    store = Store.open(store_url)
    try:
        lin, wang, li = (store.get_member(m) for m in ("m-1", "m-2", "m-3"))
        assert (lin.name, lin.tags, lin.groups) == ("小林", ["vip", "new"], ["g-1"])
        assert (lin.points, lin.grade) == (10, "A")
        assert lin.attributes == {"city": "上海"} and lin.blacklisted is False
        assert (wang.tags, wang.groups, wang.points, wang.attributes) == ([], [], 0, {})
        assert (li.name, li.groups, li.blacklisted) == ("Li, Lei", ["g-1", "g-2"], True)
        with store.transaction() as conn:
            assert store.group_sizes(conn, ["g-1", "g-2"]) == {"g-1": 2, "g-2": 1}
    finally:
        store.close()


def test_importing_again_updates_the_profile_and_keeps_what_the_engine_saw(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "members.csv"
    path.write_text(CSV, encoding="utf-8")
    assert run(capsys, "import", path, "--db", store_url)[0] == 0
    store = Store.open(store_url)
    try:
        engine = Engine(store, clock=SimClock(datetime(2026, 11, 22, 10, tzinfo=UTC)))
        chat = {"id": "c-1", "type": "message", "at": "2026-11-22T10:00:00+00:00", "member": "m-1"}
        engine.ingest([msgspec.convert(chat, Event)])
        seen = store.get_member("m-1")
        again = tmp_path / "again.jsonl"
        again.write_text(
            json.dumps({"id": "m-1", "name": "小林", "tags": ["regular"], "groups": ["g-3"]}) + "\n"
        )
        assert run(capsys, "import", again, "--db", store_url)[0] == 0
        lin = store.get_member("m-1")
        assert (lin.tags, lin.groups, lin.points) == (["regular"], ["g-3"], 0)
        assert (lin.first_seen, lin.last_message_at) == (seen.first_seen, seen.last_message_at)
        assert lin.last_message_at is not None
        with store.transaction() as conn:
            assert store.group_sizes(conn, ["g-1", "g-3"]) == {"g-1": 1, "g-3": 1}
    finally:
        store.close()


@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        ("bad.csv", "id,points\nm-1,5\nm-2,-1\n", "bad.csv line 3: points: Expected `int` >= 0"),
        ("bad.csv", "id,grade\nm-1,Z\n", "bad.csv line 2: grade: Invalid enum value 'Z'"),
        ("bad.csv", "id,nickname\nm-1,x\n", "bad.csv line 1: unknown column `nickname`"),
        ("bad.csv", "name\n小林\n", "bad.csv line 1: the header needs an `id` column"),
        ("bad.csv", "id,name\nm-1,a,b\n", "bad.csv line 2: 3 cells, the header has 2"),
        ("bad.jsonl", '{"id": "m-1"}\n{"id": "m-2", "points": "many"}\n', "bad.jsonl line 2: points:"),
        ("bad.jsonl", '{"id": "m-1"}\n{"id": \n', "bad.jsonl line 2: not valid JSON"),
        ("bad.jsonl", '{"name": "no id"}\n', "bad.jsonl line 1: member: Object missing required field `id`"),
        ("bad.xlsx", "id\nm-1\n", "bad.xlsx: give a .csv or .jsonl file"),
    ],
)
def test_a_bad_file_is_one_line_exit_1_and_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, said: str
) -> None:
    url = f"sqlite:///{tmp_path / 'qunflow.db'}"
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "import", path, "--db", url)
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and said in err, err
    assert "Traceback" not in err
    store = Store.open(url)
    try:
        with pytest.raises(NotFound):  # not even the good lines before the bad one
            store.get_member("m-1")
    finally:
        store.close()


def test_a_file_that_is_missing_or_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'qunflow.db'}"
    code, _, err = run(capsys, "import", tmp_path / "nowhere.csv", "--db", url)
    assert code == 1 and "nowhere.csv: No such file or directory" in err
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("id,name\nm-1,小林\n".encode("gbk"))
    code, _, err = run(capsys, "import", gbk, "--db", url)
    assert code == 1 and "not UTF-8" in err


def test_a_member_twice_in_a_file_is_taken_as_its_later_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'qunflow.db'}"
    path = tmp_path / "twice.csv"
    path.write_text("id,name,groups\nm-1,first,g-1\nm-1,second,g-2\n", encoding="utf-8")
    code, out, _ = run(capsys, "import", path, "--db", url)
    assert code == 0 and "imported 1 members" in out
    store = Store.open(url)
    try:
        assert (store.get_member("m-1").name, store.get_member("m-1").groups) == ("second", ["g-2"])
        with store.transaction() as conn:
            assert store.group_sizes(conn, ["g-1", "g-2"]) == {"g-1": 0, "g-2": 1}
    finally:
        store.close()


def test_a_groups_file_registers_groups_and_keeps_their_member_counts(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    members = tmp_path / "members.csv"
    members.write_text("id,groups\nm-1,g-fans-1\n", encoding="utf-8")
    assert run(capsys, "import", members, "--db", store_url)[0] == 0
    path = tmp_path / "groups.csv"
    path.write_text(
        "\ufeffid,name,tags,kind,capacity,owner\n"
        "g-fans-1,粉丝福利 1 群,fans; north,fans,200,s-1\n"
        "vip-1,VIP,,vip,,\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "import", path, "--db", store_url)
    assert (code, err) == (0, "") and "imported 2 groups" in out
    jsonl = tmp_path / "exported.jsonl"  # a name that says nothing: --kind says it
    jsonl.write_text('{"id": "g-9", "name": "九群", "capacity": 9}\n', encoding="utf-8")
    assert run(capsys, "import", jsonl, "--kind", "groups", "--db", store_url)[0] == 0
    store = Store.open(store_url)
    try:
        fans = store.get_group("g-fans-1")
        assert (fans["name"], fans["tags"], fans["capacity"], fans["owner"]) == (
            "粉丝福利 1 群",
            ["fans", "north"],
            200,
            "s-1",
        )
        assert fans["members"] == 1
        assert store.get_group("vip-1")["capacity"] is None
        assert store.get_group("g-9")["capacity"] == 9
    finally:
        store.close()


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("id,capacity\ng-1,5\ng-2,-1\n", "groups.csv line 3: capacity: Expected `int` >= 1"),
        ("id,kind\ng-1,party\n", "groups.csv line 2: kind: Invalid enum value 'party'"),
        ("id,points\ng-1,5\n", "groups.csv line 1: unknown column `points`"),
        ("id,capacity\ng-1,many\n", "groups.csv line 2: capacity: Expected `int | null`, got `str`"),
    ],
)
def test_a_bad_groups_file_is_one_line_exit_1_and_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, said: str
) -> None:
    url = f"sqlite:///{tmp_path / 'qunflow.db'}"
    path = tmp_path / "groups.csv"
    path.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "import", path, "--db", url)
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and said in err, err
    store = Store.open(url)
    try:
        assert store.list_groups() == []
    finally:
        store.close()
