"""The `qunflow` command (DESIGN §12). Exit 0 on success, 1 on a user error (one clear line), 2 on usage."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from qunflow.engine.errors import QunflowError, UserError
from qunflow.engine.member import PROFILE


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise UserError(f"{what} {path}: {error.strerror or error}") from None


def _json(data: bytes | str, where: str, kind: Any = Any) -> Any:
    """Decoded JSON, or one UserError line saying where it is not usable."""
    try:
        return msgspec.json.decode(data, type=kind)
    except msgspec.ValidationError as error:  # a subclass of DecodeError: catch it first
        raise UserError(f"{where}: {error}") from None
    except msgspec.DecodeError as error:
        raise UserError(f"{where}: not valid JSON: {error}") from None
    except RecursionError:
        raise UserError(f"{where}: the JSON nests too deeply") from None


def _lines(path: str, kind: type, what: str) -> list[Any]:
    items = []
    for number, line in enumerate(_read(path, what).decode("utf-8", "replace").splitlines(), start=1):
        if line.strip():
            items.append(_json(line, f"{path} line {number}", kind))
    return items


def _open_store(url: str) -> Any:
    """The store at `--db`, or one UserError line saying why it cannot be opened."""
    from qunflow.engine import Store

    return _opened(Store.open, url)


def _opened(open_: Callable[[str], Any], url: str) -> Any:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return open_(url)
    except SQLAlchemyError as error:
        reason = getattr(error, "orig", None) or error
        raise UserError(f"--db {url}: cannot open the database: {str(reason).splitlines()[0]}") from None


def cmd_validate(args: argparse.Namespace) -> int:
    from qunflow.engine import check, default_registry

    document = _read(args.flow, "flow")
    # Not a flow at all: one error line on stderr, like a missing file.
    _json(document, f"flow {args.flow}")
    _, _, problems = check(document, default_registry())
    if args.json:
        print(msgspec.json.encode(problems).decode())
    elif not problems:
        print("ok")
    for problem in problems if not args.json else ():
        print(problem.line())
    return 1 if problems else 0


def _community_settings(path: str) -> Any:
    """The community settings of a JSON file (DESIGN §18), or one UserError line naming the field."""
    from qunflow.engine.community_settings import CommunitySettingInvalid, decode_settings

    try:
        return decode_settings(_json(_read(path, "settings"), f"--settings {path}"))
    except CommunitySettingInvalid as error:
        raise UserError(f"--settings {path}: {error}") from None


def cmd_simulate(args: argparse.Namespace) -> int:
    from qunflow.engine.content import ContentItem
    from qunflow.engine.event import decode_event_lines
    from qunflow.engine.member import GroupRecord, MemberRecord, StaffRecord
    from qunflow.engine.simulate import encode_report, parse_moment, simulate

    flows = []
    for path in args.flow:
        flows.append(_json(_read(path, "flow"), f"flow {path}"))
    events = decode_event_lines(_read(args.events, "events").decode("utf-8", "replace"), args.events)
    members = _lines(args.members, MemberRecord, "members") if args.members else []
    groups = _lines(args.groups, GroupRecord, "groups") if args.groups else []
    content = _lines(args.content, ContentItem, "content") if args.content else []
    staff = _lines(args.staff, StaffRecord, "staff") if args.staff else []
    settings = _community_settings(args.settings) if args.settings else None
    try:
        start = parse_moment(args.start, "--start") if args.start else None
        result = simulate(
            flows,
            events,
            args.until,
            members=members,
            groups=groups,
            start=start,
            content=content,
            staff=staff,
            settings=settings,
        )
    except QunflowError as error:
        problems = getattr(error, "problems", None)
        if problems:
            raise UserError("; ".join(p.line() for p in problems)) from None
        raise
    data = encode_report(result)
    if args.out:
        try:
            Path(args.out).write_bytes(data)
        except OSError as error:
            raise UserError(f"--out {args.out}: {error.strerror or error}") from None
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
    reached: set[str] = set()  # the members who got a delivery, not every member the report knows
    to_groups = 0
    for delivery in result["deliveries"]:
        kinds[delivery["kind"]] = kinds.get(delivery["kind"], 0) + 1
        if delivery["member"] is None:
            to_groups += 1
        else:
            reached.add(delivery["member"])
    groups = f" and {to_groups} to groups" if to_groups else ""
    console.print(
        f"{len(result['deliveries'])} deliveries ("
        + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        + f") to {len(reached)} members{groups}; full report in {out}"
    )


def cmd_bench(args: argparse.Namespace) -> int:
    from qunflow.bench import render, run_workload

    result = run_workload(args.workload, args.members, args.db, args.rounds, args.rate, args.seconds)
    if args.json:
        print(msgspec.json.encode(result).decode())
    else:
        render(result)
    return 0


DEFAULT_DB = "sqlite:///qunflow.db"


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"`{text}` is not a port number (1-65535)")
    return int(text)


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    from qunflow.editor.app import create_app
    from qunflow.editor.demo import load_demo
    from qunflow.editor.services import Services
    from qunflow.editor.shutdown import serve_until_stopped
    from qunflow.engine import settle

    password = os.environ.get("QUNFLOW_ADMIN_PASSWORD")
    if password is not None and len(password) < 8:
        raise UserError("QUNFLOW_ADMIN_PASSWORD: at least 8 characters")
    services = _opened(Services.open, args.db)
    generated = services.accounts.ensure_admin(password, services.now_us())
    if generated:
        print(f"created user admin with password {generated}  (shown once; 只显示这一次)", flush=True)
    demo_wecom = None
    if args.demo:
        summary = load_demo(services)
        if summary is None:
            print("demo data: already loaded", flush=True)
        else:
            skipped = f"; skipped {', '.join(summary.skipped)}" if summary.skipped else ""
            print(
                f"demo data: {len(summary.flows)} flows, {summary.members} members, {summary.events} events, "
                f"{summary.deliveries} deliveries{skipped}",
                flush=True,
            )
        demo_wecom = _start_demo_wecom(services, args, fresh=summary is not None)
    print(f"qunflow: open http://{args.host}:{args.port}/ and sign in (API docs at /schema)", flush=True)
    try:
        app = create_app(services)
        app.state.simulated_wecom = demo_wecom is not None
        settle()
        serve_until_stopped(app, args.host, args.port)
    finally:
        if demo_wecom is not None:
            demo_wecom.stop()
        services.close()
    return 0


def _start_demo_wecom(services: Any, args: argparse.Namespace, fresh: bool) -> Any:
    """The demo's simulated WeCom (a fake on loopback), sending callbacks to this server."""
    from qunflow.editor.demo_wecom import ADD_EVERY, CONFIRM_AFTER, DemoWecom

    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    host = f"[{host}]" if ":" in host else host
    demo = DemoWecom(services, f"http://{host}:{args.port}/wecom/callback").start(fresh=fresh)
    print(
        f"demo WeCom: a simulated WeCom at {demo.fake.url} (not a real corp; 本机模拟的企业微信): a customer "
        f"adds staff every {ADD_EVERY:.0f} s, staff confirm mass sends after {CONFIRM_AFTER:.0f} s",
        flush=True,
    )
    return demo


def cmd_token(args: argparse.Namespace) -> int:
    from qunflow.editor.accounts import Accounts
    from qunflow.engine import RealClock
    from qunflow.engine.clock import to_us

    store = _open_store(args.db)
    try:
        _, token = Accounts(store).create_token(args.role, to_us(RealClock().now()), args.label)
    finally:
        store.close()
    print(token)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from qunflow.engine import RealClock
    from qunflow.engine.clock import to_us

    from .importer import KINDS, kind_of, read_records

    kind = KINDS[args.kind or kind_of(args.file)]
    records = read_records(args.file, kind)  # every line checked before anything is written
    now = to_us(RealClock().now())
    store = _open_store(args.db)
    try:
        with Progress(transient=True) as progress:
            task = progress.add_task(f"导入{kind.title} importing {kind.name}", total=len(records))
            kind.write(store, records, now, lambda n: progress.advance(task, n))
    finally:
        store.close()
    print(f"imported {len(records)} {kind.name} from {args.file} (已导入 {len(records)} 个{kind.title})")
    return 0


def cmd_user(args: argparse.Namespace) -> int:
    """`qunflow user password NAME`: a new password, printed once (a forgotten admin password)."""
    from qunflow.editor.accounts import Accounts

    store = _open_store(args.db)
    try:
        password = Accounts(store).new_password(args.name)
    finally:
        store.close()
    print(f"new password for {args.name}: {password}  (shown once; 只显示这一次)")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import logging

    from sqlalchemy.engine import make_url

    from qunflow.engine import settle, shutdown
    from qunflow.engine.worker import WorkerOptions, open_worker

    options = WorkerOptions(
        db=args.db, lease=args.lease, poll=args.poll, batch=args.batch, send_threads=args.send_threads
    )
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(message)s")
    worker = open_worker(options)
    shutdown.on_signals(worker.stop.set)
    shown = make_url(worker.engine.store.url).render_as_string(hide_password=True)
    print(f"qunflow worker {worker.owner} on {shown}: lease {args.lease}s, poll {args.poll}s", flush=True)
    try:
        settle()
        shutdown.run_beside_signals(worker.run, "qunflow-worker")
    finally:
        worker.dispatcher.close()
        worker.engine.store.close()
    return 0


def cmd_wecom(args: argparse.Namespace) -> int:
    """`qunflow wecom sync`: staff, customers, groups and tags from WeCom, one line per kind."""
    from qunflow.editor.services import Services
    from qunflow.engine.connectors.wecom.connector import WecomConnector

    services = _opened(Services.open, args.db)
    try:
        if "wecom" not in services.connectors.stored():
            raise UserError(
                "the WeCom connector is not configured: an admin sets it under 连接器 (/admin/connectors)"
            )
        options = services.connectors.options("wecom")
        connector = WecomConnector.open(options, services.connector_context())  # type: ignore[arg-type]
        try:
            result = connector.sync()
        finally:
            connector.close()
    finally:
        services.close()
    for line in result.lines():
        print(line)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "worker": cmd_worker,
    "serve": cmd_serve,
    "token": cmd_token,
    "bench": cmd_bench,
    "validate": cmd_validate,
    "simulate": cmd_simulate,
    "import": cmd_import,
    "user": cmd_user,
    "wecom": cmd_wecom,
}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="qunflow", description="群流 qunflow: community-operations automation"
    )
    sub = root.add_subparsers(dest="command", required=True)

    validate = sub.add_parser("validate", help="check a flow file; prints ok or one problem a line")
    validate.add_argument("flow", help="flow JSON file")
    validate.add_argument("--json", action="store_true", help="print the problems as a JSON list")

    sim = sub.add_parser("simulate", help="run flows on events under a simulated clock")
    sim.add_argument("--flow", action="append", required=True, help="flow JSON file (repeatable)")
    sim.add_argument("--events", required=True, help="events, JSON Lines")
    sim.add_argument("--members", help="members, JSON Lines")
    sim.add_argument("--groups", help="groups, JSON Lines")
    sim.add_argument("--content", help="content library items (话术库), JSON Lines")
    sim.add_argument("--staff", help="staff accounts (员工) with their daily friend limits, JSON Lines")
    sim.add_argument(
        "--settings", help="community settings (社群设置: touch_budget, approval, calendar), a JSON object"
    )
    sim.add_argument(
        "--until", required=True, help="ISO 8601 timestamp, or a duration after the start (P30D)"
    )
    sim.add_argument("--start", help="when the simulated clock starts (default: the first event)")
    sim.add_argument("--out", help="write the JSON report here (default: standard output)")

    bench = sub.add_parser("bench", help="benchmark workloads (DESIGN §13); 基准测试")
    bench.add_argument("--members", type=int, help="how many members (default depends on the workload)")
    bench.add_argument("--db", help="postgresql:// URL (default: SQLite in a temporary directory)")
    bench.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    bench.add_argument(
        "--rounds", type=int, default=1, help="w only: alternate engine and baseline, best of N"
    )
    bench.add_argument(
        "--workload",
        default="w",
        choices=(
            "w",
            "http",
            "storm",
            "simulate30",
            "million",
            "members",
            "broadcast",
            "scaleout",
            "backtest",
            "reports",
            "shutdown",
            "welcome",
        ),
        help="w (default): reference journey vs the sqlite3 baseline; http; storm; simulate30; million; "
        "members; broadcast; scaleout; backtest; reports; shutdown; welcome (WeCom add callbacks → welcome "
        "during a broadcast)",
    )
    bench.add_argument("--rate", type=float, help="welcome only: add callbacks a second (default 200)")
    bench.add_argument("--seconds", type=float, help="welcome only: how long callbacks come (default 60)")

    serve = sub.add_parser("serve", help="the web app and a worker in one process; 启动服务")
    serve.add_argument("--db", default=DEFAULT_DB, help=f"database URL (default: {DEFAULT_DB})")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port (default: 8000)")
    serve.add_argument("--demo", action="store_true", help="load the flow templates and a demo community")

    worker = sub.add_parser(
        "worker",
        help="an extra worker beside `serve` (PostgreSQL); 后台执行进程",
        description="Steps due runs and sends deliveries through the connectors an admin configured "
        "(连接器, /admin/connectors), like `serve`. Secrets are read with QUNFLOW_SECRET_KEY, or the key "
        "file qunflow.key in the working directory (PostgreSQL) or beside the SQLite file.",
    )
    worker.add_argument("--db", default=DEFAULT_DB, help=f"database URL (default: {DEFAULT_DB})")
    worker.add_argument("--lease", type=float, default=30.0, help="seconds a claimed batch is held (30)")
    worker.add_argument("--poll", type=float, default=1.0, help="longest idle sleep in seconds (default 1)")
    worker.add_argument("--batch", type=int, default=500, help="runs per batch (default 500)")
    worker.add_argument("--send-threads", type=int, default=4, help="deliveries sent at once (default 4)")
    worker.add_argument("--verbose", action="store_true", help="log database outages and retries")

    imports = sub.add_parser(
        "import",
        help="members, groups, staff, tags or content from a .csv or .jsonl file, all or none; 导入",
        description="Create or update members, groups, staff, tags or content items (a file named "
        "groups*.csv|jsonl holds groups; likewise staff*, tags*, content*). "
        "CSV: a header row of fields; members: id, "
        + ", ".join(f.name for f in PROFILE)
        + ", attributes.<key>; groups: id, name, tags, kind, "
        "capacity, owner; staff: id, name, daily_friend_limit; tags: name, category, color; content: id, "
        "title, kind, text, media.url, link.url, ... Lists separated by `;`. "
        "JSON Lines: one object a line. An import is not an "
        "event: it starts no flow.",
    )
    imports.add_argument("file", help="members.csv, groups.csv, content.jsonl, ... (UTF-8)")
    imports.add_argument(
        "--kind",
        choices=("members", "groups", "staff", "tags", "content"),
        help="what the file holds (default: from its name)",
    )
    imports.add_argument("--db", default=DEFAULT_DB, help=f"database URL (default: {DEFAULT_DB})")

    user = sub.add_parser("user", help="users; 用户")
    user_sub = user.add_subparsers(dest="action", required=True)
    password = user_sub.add_parser(
        "password", help="give a user a new password, printed once; their sessions end (忘记密码)"
    )
    password.add_argument("name", help="the user, e.g. admin")
    password.add_argument("--db", default=DEFAULT_DB, help=f"database URL (default: {DEFAULT_DB})")

    wecom = sub.add_parser("wecom", help="WeCom (企业微信)")
    wecom_sub = wecom.add_subparsers(dest="action", required=True)
    wecom_sync = wecom_sub.add_parser(
        "sync", help="import staff, customers, groups and tags from WeCom; 同步企业微信"
    )
    wecom_sync.add_argument("--db", default=DEFAULT_DB, help=f"database URL (default: {DEFAULT_DB})")
    token = sub.add_parser("token", help="API tokens; 接口令牌")
    token_sub = token.add_subparsers(dest="action", required=True)
    create = token_sub.add_parser("create", help="print a new API token (stored hashed)")
    create.add_argument("--role", required=True, choices=("admin", "operator", "viewer", "ingest"))
    create.add_argument("--label", help="what the token is for")
    create.add_argument("--db", default=DEFAULT_DB, help=f"database URL (default: {DEFAULT_DB})")
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
