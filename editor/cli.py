"""The `qunflow` command (DESIGN §12). Exit 0 on success, 1 on a user error (one clear line), 2 on usage."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from engine.errors import QunflowError, UserError


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise UserError(f"{what} {path}: {error.strerror or error}") from None


def _lines(path: str, kind: type, what: str) -> list[Any]:
    items = []
    for number, line in enumerate(_read(path, what).decode("utf-8", "replace").splitlines(), start=1):
        if line.strip():
            try:
                items.append(msgspec.json.decode(line, type=kind))
            except (msgspec.DecodeError, msgspec.ValidationError) as error:
                raise UserError(f"{path} line {number}: {error}") from None
    return items


def cmd_validate(args: argparse.Namespace) -> int:
    from engine import check, default_registry

    _, _, problems = check(_read(args.flow, "flow"), default_registry())
    if args.json:
        print(msgspec.json.encode(problems).decode())
    elif not problems:
        print("ok")
    for problem in problems if not args.json else ():
        print(problem.line())
    return 1 if problems else 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from engine.event import decode_event_lines
    from engine.member import GroupRecord, MemberRecord
    from engine.simulate import encode_report, simulate

    flows = []
    for path in args.flow:
        try:
            flows.append(msgspec.json.decode(_read(path, "flow")))
        except msgspec.DecodeError as error:
            raise UserError(f"flow {path}: not valid JSON: {error}") from None
    events = decode_event_lines(_read(args.events, "events").decode("utf-8", "replace"), args.events)
    members = _lines(args.members, MemberRecord, "members") if args.members else []
    groups = _lines(args.groups, GroupRecord, "groups") if args.groups else []
    try:
        result = simulate(flows, events, args.until, members=members, groups=groups)
    except QunflowError as error:
        problems = getattr(error, "problems", None)
        if problems:
            raise UserError("; ".join(p.line() for p in problems)) from None
        raise
    data = encode_report(result)
    if args.out:
        Path(args.out).write_bytes(data)
        _print_summary(result, args.out)
    else:
        sys.stdout.write(data.decode())
    return 0


def _print_summary(result: dict[str, Any], out: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for flow_id, runs in result["runs"].items():
        table = Table(title=f"{flow_id}: runs " + ", ".join(f"{k} {v}" for k, v in runs.items() if v))
        table.add_column("node")
        table.add_column("entered", justify="right")
        for node, count in result["nodes"].get(flow_id, {}).items():
            table.add_row(node, str(count))
        console.print(table)
    kinds: dict[str, int] = {}
    for delivery in result["deliveries"]:
        kinds[delivery["kind"]] = kinds.get(delivery["kind"], 0) + 1
    console.print(
        f"{len(result['deliveries'])} deliveries ("
        + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        + f") to {len(result['members'])} members; full report in {out}"
    )


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "validate": cmd_validate,
    "simulate": cmd_simulate,
}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="qunflow", description="群流 qunflow: community-operations automation")
    sub = root.add_subparsers(dest="command", required=True)

    validate = sub.add_parser("validate", help="check a flow file; prints ok or one problem a line")
    validate.add_argument("flow", help="flow JSON file")
    validate.add_argument("--json", action="store_true", help="print the problems as a JSON list")

    sim = sub.add_parser("simulate", help="run flows on events under a simulated clock")
    sim.add_argument("--flow", action="append", required=True, help="flow JSON file (repeatable)")
    sim.add_argument("--events", required=True, help="events, JSON Lines")
    sim.add_argument("--members", help="members, JSON Lines")
    sim.add_argument("--groups", help="groups, JSON Lines")
    sim.add_argument("--until", required=True, help="ISO 8601 timestamp, or a duration after the first event (P30D)")
    sim.add_argument("--out", help="write the JSON report here (default: standard output)")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except QunflowError as error:
        print(f"qunflow {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
