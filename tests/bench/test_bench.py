"""`qunflow bench` runs the reference journey end to end. Benchmarks are not tests: no timing here."""

from __future__ import annotations

import json
import os

import pytest

from qunflow.editor.cli import main

MEASURED = ("ingest_per_s", "park_per_s", "resume_per_s", "peak_rss_mb")
FIGURES = (*MEASURED, "bytes_per_parked")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_bench_reports_every_delivery_made_exactly_once(backend: str, capsys: pytest.CaptureFixture) -> None:
    args = ["bench", "--members", "25", "--json"]
    if backend == "postgresql":
        url = os.environ.get("QUNFLOW_TEST_POSTGRES_URL")
        if not url:
            pytest.skip("PostgreSQL tests need QUNFLOW_TEST_POSTGRES_URL")
        args += ["--db", url]

    assert main(args) == 0

    result = json.loads(capsys.readouterr().out)
    assert result["workload"] == "w"
    assert result["backend"] == backend
    for side in (result, result["baseline"]):
        assert side["members"] == 25
        assert side["events"] == 25 + 13  # every member joins; the even-numbered 13 post a message
        assert side["exactly_once"] is True, side["problems"]
        assert all(side[figure] > 0 for figure in MEASURED)
        assert side["bytes_per_parked"] >= 0  # a few rows may fit in pages the store already had
    assert set(result["ratio"]) == set(FIGURES)
    if backend == "postgresql":
        # The same journey in plain psycopg on the same server is the baseline (DESIGN §21); the
        # plain sqlite3 one runs in the same invocation for reference.
        assert result["baseline"]["backend"] == "psycopg"
        plain = result["sqlite3_baseline"]
        assert plain["backend"] == "sqlite3" and plain["exactly_once"] is True
        assert set(result["ratio_to_sqlite3"]) == set(FIGURES)
    else:
        assert result["baseline"]["backend"] == "sqlite3"


@pytest.mark.parametrize("side", ["engine", "baseline"])
def test_phases_run_w_up_to_the_phase_asked(side: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from qunflow.bench import phases

    ran: list[str] = []
    journey = phases.EngineJourney if side == "engine" else phases.Baseline
    for name in ("park", "chat", "resume"):
        original = getattr(journey, name)

        def record(self: object, original=original, name=name) -> None:  # type: ignore[no-untyped-def]
            ran.append(name)
            original(self)

        monkeypatch.setattr(journey, name, record)
    assert phases.main(["10", side, "chat"]) == 0
    assert ran == ["park", "chat"]
    with pytest.raises(SystemExit):
        phases.main(["10", side, "later"])


def test_http_workload_counts_a_rate_only_when_the_server_stored_every_event(
    capsys: pytest.CaptureFixture,
) -> None:
    assert main(["bench", "--workload", "http", "--members", "1200", "--json"]) == 0

    result = json.loads(capsys.readouterr().out)
    assert result["available"] is True, result.get("reason")
    assert result["failures"] == []
    assert result["events"] == 1200 + 600  # every member joins; the even-numbered half posts a message
    assert result["stored"] == result["events"]
    assert result["parked"] == 1200
    assert result["budget"]["every_event_stored"] is True


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_broadcast_workload_sends_each_member_one_message(
    backend: str, capsys: pytest.CaptureFixture
) -> None:
    # 2,500 members: more than one page of the audience, so the walk goes on across transactions.
    args = ["bench", "--workload", "broadcast", "--members", "2500", "--json"]
    if backend == "postgresql":
        url = os.environ.get("QUNFLOW_TEST_POSTGRES_URL")
        if not url:
            pytest.skip("PostgreSQL tests need QUNFLOW_TEST_POSTGRES_URL")
        args += ["--db", url]

    assert main(args) == 0

    result = json.loads(capsys.readouterr().out)
    assert result["backend"] == backend
    assert result["exactly_once"] is True, result["problems"]
    assert result["deliveries"] == 2500
    assert result["journeys"]["done"] == 1
    assert result["peak_rss_mb"] > 0


def test_scaleout_workload_steps_every_run_once(capsys: pytest.CaptureFixture) -> None:
    url = os.environ.get("QUNFLOW_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PostgreSQL tests need QUNFLOW_TEST_POSTGRES_URL")

    assert main(["bench", "--workload", "scaleout", "--members", "200", "--db", url, "--json"]) == 0

    result = json.loads(capsys.readouterr().out)
    assert result["exactly_once"] is True, result["problems"]
    assert result["cpu_count"] >= 1
    for side, workers in (("one_worker", 1), ("four_workers", 4)):
        figures = result[side]
        assert figures["workers"] == workers
        assert figures["runs_per_s"] > 0
        assert 0 <= figures["db_wait_share"] <= 1


def test_scaleout_workload_needs_postgresql(capsys: pytest.CaptureFixture) -> None:
    assert main(["bench", "--workload", "scaleout", "--members", "10"]) == 1
    assert "--db" in capsys.readouterr().err


def test_backtest_workload_backtests_every_template(capsys: pytest.CaptureFixture) -> None:
    from qunflow.flows import template_names

    assert main(["bench", "--workload", "backtest", "--members", "60", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["workload"] == "backtest" and result["members"] == 60
    assert set(result["templates"]) == set(template_names())
    # Every event the month made was stored and replayed, and the baseline read them all too.
    assert result["baseline"]["events"] == result["events"] > 60
    assert result["templates"]["welcome-vip"]["entered"] == 60  # every member joins a fans group
    assert result["budget"] == {}  # the 60-second budget is for 100,000 members


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_reports_workload_answers_every_report(backend: str, capsys: pytest.CaptureFixture) -> None:
    args = ["bench", "--workload", "reports", "--members", "2000", "--json"]
    if backend == "postgresql":
        url = os.environ.get("QUNFLOW_TEST_POSTGRES_URL")
        if not url:
            pytest.skip("PostgreSQL tests need QUNFLOW_TEST_POSTGRES_URL")
        args += ["--db", url]

    assert main(args) == 0

    result = json.loads(capsys.readouterr().out)
    assert result["backend"] == backend and result["members"] == 2000
    assert result["rows"]["members"] == 2000 and result["rows"]["groups"] == 5
    assert set(result["reports"]) == set(result["baseline"]) == {"funnel", "channels", "groups", "deliveries"}
    # The community's channels and groups, as the reports read them from the rollups.
    assert result["reports"]["channels"]["rows"] == 21 and result["reports"]["groups"]["rows"] == 5


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_shutdown_workload_stops_each_process_and_loses_nothing(
    backend: str, capsys: pytest.CaptureFixture
) -> None:
    args = ["bench", "--workload", "shutdown", "--members", "60", "--json"]
    if backend == "postgresql":
        url = os.environ.get("QUNFLOW_TEST_POSTGRES_URL")
        if not url:
            pytest.skip("PostgreSQL tests need QUNFLOW_TEST_POSTGRES_URL")
        args += ["--db", url]

    assert main(args) == 0

    result = json.loads(capsys.readouterr().out)
    assert result["backend"] == backend
    loads = {"w", "broadcast"} | ({"scaleout"} if backend == "postgresql" else set())
    assert {(c["load"], c["kind"]) for c in result["cases"]} == {
        (load, kind) for load in loads for kind in ("serve", "worker")
    }
    for case in result["cases"]:
        assert case["exactly_once"] is True, case
        assert case["exit_statuses"] == [0] * len(case["processes"]), case
        assert len(case["stop_seconds"]) == len(case["processes"])
        if case["kind"] == "serve":
            assert case["events_stored"] >= case["events_acknowledged"]
    assert result["exactly_once"] is True


def test_welcome_workload_welcomes_each_add_exactly_once(capsys: pytest.CaptureFixture) -> None:
    # Tiny: 30 add callbacks over 3 s during a broadcast to 300; the figures are reported, not judged.
    args = ["bench", "--workload", "welcome", "--members", "300", "--rate", "10", "--seconds", "3", "--json"]

    assert main(args) == 0

    result = json.loads(capsys.readouterr().out)
    assert result["callbacks"] == 30 and result["callbacks_refused"] == 0
    assert result["exactly_once"] is True and result["welcome_calls_repeated"] == 0
    assert result["welcomed"] + result["missed"] == 30
    assert sum(result["broadcast"]["deliveries"].values()) == 300
    assert set(result["budget"]) == {"p99_under_2s", "none_over_20s", "none_missed", "rate_held"}
    assert {"p50_s", "p99_s", "max_s", "load_average"} <= set(result)


def test_rate_and_seconds_belong_to_the_welcome_workload(capsys: pytest.CaptureFixture) -> None:
    assert main(["bench", "--workload", "storm", "--members", "10", "--rate", "5"]) == 1
    assert "--rate" in capsys.readouterr().err
