"""Imports: members, groups and content items from a CSV or JSON Lines file into the store, all of
them or none.

One reader for the command line (`qunflow import`) and the pages' uploads: every line is checked
before anything is written, and a problem names the line and the field.

JSON Lines: one object a line, as `qunflow simulate --members` / `--groups` take them. CSV (UTF-8, with
or without a BOM, as spreadsheet programs write it): a header row naming the record's fields; list
fields (`tags`, `groups`) hold several values separated by `;`; a column `<field>.<key>` sets one key
of an object field (a member's `attributes.city`, a content item's `media.url`); an empty cell leaves
the field at its default. A member
already stored takes the file's profile and keeps what the engine saw of it (first seen, last
message); a group keeps its member count. An import is not an event: it starts no flow.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from qunflow.engine import Store
from qunflow.engine.content import ContentItem
from qunflow.engine.errors import UserError, validation_message
from qunflow.engine.member import GroupRecord, MemberRecord, StaffRecord, TagRecord

from .inputs import NUL_REFUSED, find_nul

SEPARATOR = ";"


@dataclass(frozen=True)
class Importable:
    """A kind of record a file can hold: its type, its list fields, and how it is written."""

    name: str
    one: str  # what a record is called in a problem: "member"
    record: type[msgspec.Struct]
    lists: tuple[str, ...]
    # Object fields whose keys CSV columns `<field>.<key>` set.
    nested: tuple[str, ...]
    # Writes the checked records in one transaction; the callback hears how many are written.
    write: Callable[[Store, list[Any], int, Callable[[int], None] | None], None]
    title: str  # for the progress bar and the summary line, in 简体中文


def _write_members(store: Store, records: list[Any], now: int, done: Callable[[int], None] | None) -> None:
    store.put_members([r.to_member(now) for r in records], done=done)


def _write_groups(store: Store, records: list[Any], now: int, done: Callable[[int], None] | None) -> None:
    store.put_groups(records, done=done)


def _write_staff(store: Store, records: list[Any], now: int, done: Callable[[int], None] | None) -> None:
    store.put_staff(records, done=done)


def _write_tags(store: Store, records: list[Any], now: int, done: Callable[[int], None] | None) -> None:
    store.put_tags(records, done=done)


def _write_content(store: Store, records: list[Any], now: int, done: Callable[[int], None] | None) -> None:
    store.put_content(records, now, done=done)


KINDS: dict[str, Importable] = {
    "members": Importable(
        "members", "member", MemberRecord, ("tags", "groups"), ("attributes",), _write_members, "成员"
    ),
    "groups": Importable("groups", "group", GroupRecord, ("tags",), (), _write_groups, "群"),
    "staff": Importable("staff", "staff member", StaffRecord, (), (), _write_staff, "员工"),
    "tags": Importable("tags", "tag", TagRecord, (), (), _write_tags, "标签"),
    "content": Importable(
        "content", "content item", ContentItem, (), ("media", "link", "miniprogram"), _write_content, "话术"
    ),
}


def kind_of(path: str) -> str:
    """The kind a file holds, from its name: `groups.csv`, `groups-2026.jsonl` hold groups; likewise
    `staff*`, `tags*` and `content*`; any other name holds members."""
    stem = Path(path).name.lower()
    for name in KINDS:
        if name != "members" and stem.startswith(name):
            return name
    return "members"


def read_members(path: str) -> list[MemberRecord]:
    """Every member in the file, checked; a problem raises UserError naming the line and field. A
    member that appears twice is taken as its later line says."""
    return read_records(path, KINDS["members"])


def read_records(path: str, kind: Importable) -> list[Any]:
    """Every record in the file, checked (see :func:`parse_records`)."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise UserError(f"{path}: {error.strerror or error}") from None
    return parse_records(path, data, kind)


def parse_records(label: str, data: bytes, kind: Importable) -> list[Any]:
    """Every record in a file's bytes (`label` is its name: the suffix says CSV or JSON Lines),
    checked; a problem raises UserError naming the line and field. A record whose id appears twice is
    taken as its later line says."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"{label}: not UTF-8 text (save the file as UTF-8)") from None
    suffix = Path(label).suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(label, text, kind)
    elif suffix in (".jsonl", ".ndjson"):
        rows = _json_rows(label, text)
    else:
        raise UserError(f"{label}: give a .csv or .jsonl file")
    found: dict[str, Any] = {}
    for number, row in rows:
        nul = find_nul(row)
        if nul:
            raise UserError(f"{label} line {number}: {nul}: {NUL_REFUSED}")
        try:
            record = msgspec.convert(row, kind.record, strict=False)
        except msgspec.ValidationError as error:
            field, message = validation_message(error)
            raise UserError(f"{label} line {number}: {field or kind.one}: {message}") from None
        key = getattr(record, "id", None) or record.name  # tags are known by name
        found.pop(key, None)  # a later line wins, and takes the later place
        found[key] = record
    return list(found.values())


def _json_rows(label: str, text: str) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield number, msgspec.json.decode(line)
            except msgspec.DecodeError as error:
                raise UserError(f"{label} line {number}: not valid JSON: {error}") from None
            except RecursionError:
                raise UserError(f"{label} line {number}: the JSON nests too deeply") from None


def _csv_rows(label: str, text: str, kind: Importable) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as error:
        raise UserError(f"{label} line 1: not CSV: {error}") from None
    known = set(kind.record.__struct_fields__)
    for name in header:
        if name not in known and name.partition(".")[0] not in kind.nested:
            raise UserError(f"{label} line 1: unknown column `{name}` (columns: {', '.join(sorted(known))})")
    key = "id" if "id" in known else "name"
    if key not in header:
        raise UserError(f"{label} line 1: the header needs an `{key}` column")
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as error:
            raise UserError(f"{label} line {reader.line_num}: not CSV: {error}") from None
        if cells is None:
            return
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            raise UserError(
                f"{label} line {reader.line_num}: {len(cells)} cells, the header has {len(header)}"
            )
        row: dict[str, Any] = {}
        for name, cell in zip(header, cells, strict=False):
            cell = cell.strip()
            if not cell:
                continue
            if name in kind.lists:
                row[name] = [part.strip() for part in cell.split(SEPARATOR) if part.strip()]
            elif "." in name:
                field, _, key = name.partition(".")
                row.setdefault(field, {})[key] = cell
            else:
                row[name] = cell
        yield reader.line_num, row
