"""`qunflow import`: members from a CSV or JSON Lines file into the store, all of them or none.

JSON Lines: one member object a line, as `qunflow simulate --members` takes them. CSV (UTF-8, with or
without a BOM, as spreadsheet programs write it): a header row naming `MemberRecord`'s fields; `tags`
and `groups` hold several values separated by `;`; a column `attributes.<key>` sets that attribute;
an empty cell leaves the field at its default. A member already stored takes the file's profile and
keeps what the engine saw of it (first seen, last message). An import is not an event: it starts no
flow.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from qunflow.engine.errors import UserError, validation_message
from qunflow.engine.member import MemberRecord

from .inputs import NUL_REFUSED, find_nul

LISTS = ("tags", "groups")
SEPARATOR = ";"


def read_members(path: str) -> list[MemberRecord]:
    """Every member in the file, checked; a problem raises UserError naming the line and field. A
    member that appears twice is taken as its later line says."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise UserError(f"{path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text (save the file as UTF-8)") from None
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(path, text)
    elif suffix in (".jsonl", ".ndjson"):
        rows = _json_rows(path, text)
    else:
        raise UserError(f"{path}: give a .csv or .jsonl file")
    found: dict[str, MemberRecord] = {}
    for number, row in rows:
        nul = find_nul(row)
        if nul:
            raise UserError(f"{path} line {number}: {nul}: {NUL_REFUSED}")
        try:
            record = msgspec.convert(row, MemberRecord, strict=False)
        except msgspec.ValidationError as error:
            field, message = validation_message(error)
            raise UserError(f"{path} line {number}: {field or 'member'}: {message}") from None
        found.pop(record.id, None)  # a later line wins, and takes the later place
        found[record.id] = record
    return list(found.values())


def _json_rows(path: str, text: str) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield number, msgspec.json.decode(line)
            except msgspec.DecodeError as error:
                raise UserError(f"{path} line {number}: not valid JSON: {error}") from None
            except RecursionError:
                raise UserError(f"{path} line {number}: the JSON nests too deeply") from None


def _csv_rows(path: str, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip() for name in next(reader, [])]
    known = set(MemberRecord.__struct_fields__)
    for name in header:
        if name not in known and not name.startswith("attributes."):
            raise UserError(f"{path} line 1: unknown column `{name}` (columns: {', '.join(sorted(known))})")
    if "id" not in header:
        raise UserError(f"{path} line 1: the header needs an `id` column")
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            raise UserError(
                f"{path} line {reader.line_num}: {len(cells)} cells, the header has {len(header)}"
            )
        row: dict[str, Any] = {}
        for name, cell in zip(header, cells, strict=False):
            cell = cell.strip()
            if not cell:
                continue
            if name in LISTS:
                row[name] = [part.strip() for part in cell.split(SEPARATOR) if part.strip()]
            elif name.startswith("attributes."):
                row.setdefault("attributes", {})[name.removeprefix("attributes.")] = cell
            else:
                row[name] = cell
        yield reader.line_num, row
