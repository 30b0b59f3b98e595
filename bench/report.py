"""A bench result as a readable table (`qunflow bench` without `--json`)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from .workloads import RATIO_FIGURES

LABELS = {
    "ingest_per_s": "事件摄入 ingest /s",
    "park_per_s": "启动并停驻 park /s",
    "resume_per_s": "唤醒并完成 resume /s",
    "peak_rss_mb": "峰值内存 peak RSS MB",
    "bytes_per_parked": "每个停驻旅程字节 bytes/parked",
}


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def render(result: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    if result.get("workload") == "w":
        # The baseline on the engine's backend, then (on PostgreSQL) the sqlite3 one for reference.
        sides = [(result["baseline"], result["ratio"])]
        if "sqlite3_baseline" in result:
            sides.append((result["sqlite3_baseline"], result["ratio_to_sqlite3"]))
        table = Table(
            title=f"参考旅程 W · reference journey W — {result['members']:,} members, {result['backend']}"
        )
        table.add_column("figure")
        table.add_column("engine", justify="right")
        for base, _ in sides:
            table.add_column(f"{base['backend']} baseline", justify="right")
            table.add_column("ratio", justify="right")
        for key in RATIO_FIGURES:
            cells = [_cell(v) for base, ratio in sides for v in (base[key], ratio[key])]
            table.add_row(LABELS[key], _cell(result[key]), *cells)
        once = [_cell(v) for base, _ in sides for v in (base["exactly_once"], "")]
        table.add_row("恰好一次 exactly once", _cell(result["exactly_once"]), *once)
        console.print(table)
    else:
        table = Table(title=f"{result.get('workload')}")
        table.add_column("figure")
        table.add_column("value", justify="right")
        for key, value in _flat(result):
            if key not in ("workload", "budget"):
                table.add_row(key, _cell(value))
        console.print(table)
    for key, ok in (result.get("budget") or {}).items():
        mark = "[green]✓[/green]" if ok else "[red]✗[/red]" if ok is False else "?"
        console.print(f"{mark} 预算 budget {key}")


def _flat(result: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in result.items():
        if isinstance(value, dict) and key != "budget":
            rows.extend(_flat(value, f"{prefix}{key}."))
        elif isinstance(value, list):
            rows.append((f"{prefix}{key}", "; ".join(map(str, value)) or "—"))
        else:
            rows.append((f"{prefix}{key}", value))
    return rows
