"""CSV downloads of the lists (DESIGN §15 "Export"): add `format=csv` to a list's query.

The file is UTF-8 with a byte-order mark, so spreadsheet programs open Chinese text as it is; lists
are joined with `;` (as imports read them), objects written as JSON. Every row matching the filters
is in it (not only one page), read a page at a time while it streams.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar.params import QueryParameter
from litestar.response import Stream

EXPORT_PAGE = 1000
CSV_TYPE = "text/csv; charset=utf-8"
BOM = "\ufeff"
Format = Annotated[
    Literal["json", "csv"] | None,
    QueryParameter(name="format", required=False, description="`csv`: every matching row as a CSV file"),
]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if isinstance(value, dict):
        return msgspec.json.encode(value).decode()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_download(name: str, columns: Sequence[str], page: Callable[[int, int], Sequence[Any]]) -> Stream:
    """A CSV file of every row `page(offset, limit)` gives (dicts or structs), `columns` in order."""

    def lines() -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(columns)
        yield (BOM + buffer.getvalue()).encode()
        offset = 0
        while True:
            rows = page(offset, EXPORT_PAGE)
            buffer.seek(0)
            buffer.truncate()
            for row in rows:
                values = row if isinstance(row, dict) else msgspec.structs.asdict(row)
                writer.writerow([_cell(values.get(c)) for c in columns])
            yield buffer.getvalue().encode()
            if len(rows) < EXPORT_PAGE:
                return
            offset += EXPORT_PAGE

    return Stream(
        lines(),
        media_type=CSV_TYPE,
        # Stream gives the route's media type precedence over its own: say it in the headers too.
        headers={"Content-Type": CSV_TYPE, "Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
