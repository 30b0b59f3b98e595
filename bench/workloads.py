"""The benchmark workloads of DESIGN §13, each a function of (members, db) returning one JSON object.

- `w`: the reference journey through the engine and through the plain baselines (sqlite3; psycopg with
  `--db`), with ratios.
- `storm`: N runs due at once, then N runs due at 10,000/s; wake lateness with the real clock.
- `simulate30`: 30 simulated days of N members through every template in `flows/`.
- `million`: N (default 1,000,000) parked members: peak RSS and store bytes.
- `http`: ingestion over HTTP in batches of 500 (see `bench.http`).
- `members`: pages of the members list (search, filters) over N (default 1,000,000) members.
- `broadcast`: one `action.broadcast` to N (default 1,000,000) members: seconds and peak RSS.
- `scaleout`: a resume storm of N runs with 1 and 4 `qunflow worker` processes on PostgreSQL.
- `backtest`: every template backtested over 30 days of N stored members' events (see `bench.backtest`).
- `reports`: each report's API answer over N (default 1,000,000) members and 30 days of events.
- `shutdown`: SIGTERM to `qunflow serve` and `qunflow worker` under each load above: seconds, losses.
- `welcome`: add callbacks from a fake WeCom into a real `serve` at `--rate` a second for `--seconds`,
  while a broadcast to N members is dispatched; callback → `send_welcome_msg` latency (see
  `bench.welcome`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qunflow.engine import UserError

from . import baseline, journey
from .measure import fresh_database, in_fresh_process


class Workload:
    def __init__(
        self, name: str, run: Callable[[int, str | None], dict[str, Any]], members: int, about: str
    ) -> None:
        self.name = name
        self.run = run
        self.members = members
        self.about = about


RATIO_FIGURES = ("ingest_per_s", "park_per_s", "resume_per_s", "peak_rss_mb", "bytes_per_parked")


def reference_journey(members: int, db: str | None, rounds: int = 1) -> dict[str, Any]:
    """W through the engine and the plain baselines, each in its own process; every figure also as a
    ratio to the baseline on the engine's backend.

    On SQLite the baseline is plain sqlite3. With `--db postgresql://…` it is plain psycopg on the same
    server (DESIGN §21), and the sqlite3 baseline runs too, reported as `sqlite3_baseline` with its own
    ratios. With several rounds the sides alternate and each rate is the best round's, which keeps a
    busy machine's noise out of the ratios; exactly-once must hold in every round."""
    sides: dict[str, list[dict[str, Any]]] = {"engine": [], "sqlite3": [], "psycopg": []}
    with tempfile.TemporaryDirectory(prefix="qunflow-bench-") as workdir:
        for round_ in range(rounds):
            with fresh_database(db, Path(workdir), f"engine{round_}") as url:
                sides["engine"].append(in_fresh_process(journey.measure, members, url))
            if db is not None:
                with fresh_database(db, Path(workdir), f"baseline{round_}") as url:
                    sides["psycopg"].append(in_fresh_process(baseline.measure, members, url))
            sides["sqlite3"].append(
                in_fresh_process(baseline.measure, members, str(Path(workdir) / f"baseline{round_}.db"))
            )
    engine = best(sides["engine"])
    base = best(sides["psycopg"] if db is not None else sides["sqlite3"])
    ratio = _ratios(engine, base)
    result = {
        "workload": "w",
        **engine,
        "baseline": base,
        "ratio": ratio,
        "budget": {
            "park_ratio_min_0.5": _holds(ratio["park_per_s"], lambda r: r >= 0.5),
            "resume_ratio_min_0.5": _holds(ratio["resume_per_s"], lambda r: r >= 0.5),
            "bytes_per_parked_under_1024": engine["bytes_per_parked"] < 1024,
        },
    }
    if db is not None:
        plain = best(sides["sqlite3"])
        result["sqlite3_baseline"] = plain
        result["ratio_to_sqlite3"] = _ratios(engine, plain)
    return result


def _ratios(engine: dict[str, Any], base: dict[str, Any]) -> dict[str, float | None]:
    return {k: round(engine[k] / base[k], 3) if base[k] else None for k in RATIO_FIGURES}


RATES = ("ingest_per_s", "park_per_s", "resume_per_s")


def best(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One side's figures over rounds: the best rate of each phase, the highest peak memory."""
    merged = dict(results[0])
    if len(results) > 1:
        for key in RATES:
            merged[key] = max(r[key] for r in results)
        merged["peak_rss_mb"] = max(r["peak_rss_mb"] for r in results)
        for key in ("seconds", "cpu_seconds"):
            merged[key] = {k: min(r[key][k] for r in results) for k in results[0][key]}
        merged["exactly_once"] = all(r["exactly_once"] for r in results)
        merged["problems"] = [p for r in results for p in r["problems"]][:5]
        merged["rounds"] = [{k: r[k] for k in RATES} for r in results]
    return merged


def _holds(value: float | None, test: Callable[[float], bool]) -> bool | None:
    return None if value is None else test(value)


def storm(members: int, db: str | None) -> dict[str, Any]:
    from .storm import measure

    with tempfile.TemporaryDirectory(prefix="qunflow-bench-") as workdir:
        with fresh_database(db, Path(workdir), "at_once") as url:
            at_once = in_fresh_process(measure, members, url, None)
        with fresh_database(db, Path(workdir), "paced") as url:
            paced = in_fresh_process(measure, members, url, 10_000.0)
    return {
        "workload": "storm",
        "members": members,
        "at_once": at_once,
        "paced_10000_per_s": paced,
        "budget": {"paced_p99_under_1s": paced["lateness_p99_s"] < 1.0},
    }


def simulate30(members: int, db: str | None) -> dict[str, Any]:
    from .month import measure

    if db is not None:
        raise UserError("--db: simulate30 runs `simulate`, which always uses a fresh in-memory store")
    result = in_fresh_process(measure, members)
    return {"workload": "simulate30", **result, "budget": {"under_10s": result["seconds"] < 10}}


def million(members: int, db: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="qunflow-bench-") as workdir:
        with fresh_database(db, Path(workdir), "million") as url:
            result = in_fresh_process(journey.measure_parked, members, url)
    budget = {"bytes_per_parked_under_1024": result["bytes_per_parked"] < 1024}
    if members >= 1_000_000:
        budget["peak_rss_under_400mb"] = result["peak_rss_mb"] < 400
    return {"workload": "million", **result, "budget": budget}


def members_list(members: int, db: str | None) -> dict[str, Any]:
    from .members import measure

    with tempfile.TemporaryDirectory(prefix="qunflow-bench-") as workdir:
        with fresh_database(db, Path(workdir), "members") as url:
            result = in_fresh_process(measure, members, url)
    return {"workload": "members", **result, "budget": {"page_under_200ms": result["slowest_ms"] < 200}}


def broadcast(members: int, db: str | None) -> dict[str, Any]:
    from . import broadcast as b

    with tempfile.TemporaryDirectory(prefix="qunflow-bench-") as workdir:
        with fresh_database(db, Path(workdir), "broadcast") as url:
            loaded = in_fresh_process(b.store_members, members, url)
            result = in_fresh_process(b.measure, members, url)
    budget = {}
    if members >= 1_000_000:
        budget = {"under_60s": result["seconds"] < 60, "peak_rss_under_500mb": result["peak_rss_mb"] < 500}
    return {"workload": "broadcast", **loaded, **result, "budget": budget}


def scaleout(members: int, db: str | None) -> dict[str, Any]:
    from .scaleout import measure

    if db is None:
        raise UserError(
            "--db: scaleout runs `qunflow worker` processes on one PostgreSQL database; "
            "give a postgresql:// URL"
        )
    with tempfile.TemporaryDirectory(prefix="qunflow-bench-") as workdir:
        with fresh_database(db, Path(workdir), "scaleout") as url:
            result = in_fresh_process(measure, members, url, Path(workdir))
    return {
        "workload": "scaleout",
        "backend": "postgresql",
        **result,
        "budget": {"four_workers_min_2.5x": result["ratio"] >= 2.5},
    }


def reports(members: int, db: str | None) -> dict[str, Any]:
    from .reports import measure

    with tempfile.TemporaryDirectory(prefix="qunflow-bench-") as workdir:
        with fresh_database(db, Path(workdir), "reports") as url:
            result = in_fresh_process(measure, members, url)
    return {
        "workload": "reports",
        **result,
        "budget": {"every_report_under_500ms": result["slowest_ms"] < 500},
    }


def shutdown(members: int, db: str | None) -> dict[str, Any]:
    from . import shutdown as s

    cases = []
    with tempfile.TemporaryDirectory(prefix="qunflow-bench-") as workdir:
        for load in s.loads_for(db):
            for kind in s.KINDS:
                logs = Path(workdir) / f"{load}-{kind}"
                logs.mkdir()
                with fresh_database(db, logs, "shutdown") as url:
                    cases.append(in_fresh_process(s.measure, load, kind, members, url, logs))
    return {
        "workload": "shutdown",
        "backend": "postgresql" if db is not None else "sqlite",
        "members": members,
        "cases": cases,
        "slowest_stop_s": max(max(c["stop_seconds"]) for c in cases),
        "exactly_once": all(c["exactly_once"] for c in cases),
        "budget": {"every_stop_within_10s": all(c["within_10s"] for c in cases)},
    }


def http(members: int, db: str | None) -> dict[str, Any]:
    from .http import measure

    with tempfile.TemporaryDirectory(prefix="qunflow-bench-") as workdir:
        with fresh_database(db, Path(workdir), "http") as url:
            result = in_fresh_process(measure, members, url)
    if result.get("available", True):
        # A rate only counts when the server took every event: a failed post ends its client early.
        stored = not result["failures"] and result["stored"] == result["events"]
        result["budget"] = {
            "every_event_stored": stored,
            "events_per_s_min_10000": stored and result["events_per_s"] >= 10_000,
        }
    return {"workload": "http", **result}


def backtest(members: int, db: str | None) -> dict[str, Any]:
    from . import backtest as b

    if db is not None:
        raise UserError("--db: backtest reads a SQLite store (its baseline is plain sqlite3); leave --db out")
    with tempfile.TemporaryDirectory(prefix="qunflow-bench-") as workdir:
        with fresh_database(None, Path(workdir), "backtest") as url:
            loaded = in_fresh_process(b.store_community, members, url)
            result = in_fresh_process(b.measure, members, url)
    return {
        "workload": "backtest",
        **loaded,
        **result,
        "budget": {"each_template_under_60s": result["slowest_s"] < 60} if members >= 100_000 else {},
    }


WELCOME_RATE = 200.0
WELCOME_SECONDS = 60.0


def welcome(
    members: int, db: str | None, rate: float = WELCOME_RATE, seconds: float = WELCOME_SECONDS
) -> dict[str, Any]:
    from . import welcome as w

    if rate <= 0 or seconds <= 0:
        raise UserError("--rate and --seconds: must be more than 0")
    with tempfile.TemporaryDirectory(prefix="qunflow-bench-") as workdir:
        with fresh_database(db, Path(workdir), "welcome") as url:
            loaded = in_fresh_process(w.store_members, members, url)
            token = loaded.pop("token")
            result = w.measure(members, url, rate, seconds, Path(workdir), token)
    latest = result["max_s"]
    budget = {
        "p99_under_2s": result["p99_s"] is not None and result["p99_s"] < 2.0,
        "none_over_20s": latest is not None and latest <= 20.0,
        "none_missed": result["missed"] == 0,
        "rate_held": (result["callbacks_per_s"] or 0) >= 0.95 * rate,
    }
    return {"workload": "welcome", **loaded, **result, "load_average": _load_average(), "budget": budget}


def _load_average() -> list[float] | None:
    """The machine's 1, 5 and 15 minute load (a loaded machine explains slow figures)."""
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("w", reference_journey, 100_000, "reference journey W: engine vs plain sqlite3 baseline"),
        Workload("http", http, 100_000, "events over HTTP in batches of 500 to a server on loopback"),
        Workload("storm", storm, 100_000, "runs due at once and at 10,000/s: wake lateness, real clock"),
        Workload("simulate30", simulate30, 10_000, "30 simulated days of members through the templates"),
        Workload("million", million, 1_000_000, "parked members: peak RSS and store bytes"),
        Workload("members", members_list, 1_000_000, "the members list: search and filter pages"),
        Workload("scaleout", scaleout, 20_000, "a resume storm with 1 and 4 workers on PostgreSQL"),
        Workload("broadcast", broadcast, 1_000_000, "one broadcast to N members: seconds and peak RSS"),
        Workload("backtest", backtest, 100_000, "every template backtested over 30 days of N members"),
        Workload("reports", reports, 1_000_000, "each report's API answer over N members, 30 days of events"),
        Workload("shutdown", shutdown, 20_000, "SIGTERM to serve and worker under load: seconds, losses"),
        Workload("welcome", welcome, 100_000, "WeCom add callbacks → welcome, during a broadcast to N"),
    )
}


def run_workload(
    name: str,
    members: int | None = None,
    db: str | None = None,
    rounds: int = 1,
    rate: float | None = None,
    seconds: float | None = None,
) -> dict[str, Any]:
    """Run one workload and return its figures (one JSON-ready object)."""
    workload = WORKLOADS.get(name)
    if workload is None:
        raise UserError(f"--workload: unknown `{name}`; one of {', '.join(WORKLOADS)}")
    count = workload.members if members is None else members
    if count < 1:
        raise UserError("--members: must be at least 1")
    if rounds < 1:
        raise UserError("--rounds: must be at least 1")
    if name == "w":
        return reference_journey(count, db, rounds)
    if rounds != 1:
        raise UserError("--rounds: only the `w` workload runs in rounds")
    if name == "welcome":
        return welcome(count, db, WELCOME_RATE if rate is None else rate, seconds or WELCOME_SECONDS)
    if rate is not None or seconds is not None:
        raise UserError("--rate, --seconds: only the `welcome` workload takes them")
    return workload.run(count, db)
