"""Fault test: PostgreSQL restarted while workers step and send. The workers carry on by themselves
once it is back: nothing lost, nothing stepped or sent twice. Run with `pytest -s` for the figures.

It restarts the machine's cluster with `pg_ctlcluster`, so it runs only where that is possible and
the test database lives in that local cluster."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fleet import Figures, Fleet, Receiver, delay_flow, signups, wait_until
from sqlalchemy import text

from qunflow.engine import Engine, Store

JOURNEYS = 3_000
WORKERS = 2
NAME = "qunflow-restart-test"  # this test's sessions, as pg_stat_activity shows them


def local_cluster(url: str) -> tuple[str, str]:
    """The (version, name) of the local cluster serving `url`, or skip saying why not."""
    if shutil.which("pg_ctlcluster") is None or shutil.which("pg_lsclusters") is None:
        pytest.skip("pg_ctlcluster is not available: cannot restart the database")
    if os.geteuid() != 0:
        pytest.skip("restarting the database with pg_ctlcluster needs root")
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1", None):
        pytest.skip(f"the test database is on {parts.hostname}, not a local cluster")
    port = str(parts.port or 5432)
    listing = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False)
    for line in listing.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == port and fields[3] == "online":
            return fields[0], fields[1]
    pytest.skip(f"no online local cluster on port {port} (pg_lsclusters)")


def others_busy(store: Store) -> int:
    """Sessions of other clients in the middle of something (a restart would break them)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        " AND pid <> pg_backend_pid() AND coalesce(application_name, '') <> :name"
        " AND state IN ('active', 'idle in transaction')"
    )
    with store.engine.connect() as conn:
        return conn.execute(query, {"name": NAME}).scalar_one()


def restart(version: str, name: str) -> float:
    started = time.monotonic()
    done = subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "restart"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        pytest.skip(f"pg_ctlcluster restart was refused: {done.stderr.strip() or done.stdout.strip()}")
    return time.monotonic() - started


def test_workers_recover_from_a_database_restart_by_themselves(pg_url: str, tmp_path: Path) -> None:
    version, name = local_cluster(pg_url)
    pg_url += f"&application_name={NAME}"
    store = Store.open(pg_url)
    # Where other clients share the cluster (people running tests side by side), do not pull the
    # database out from under them; in CI this test is the only client.
    if not wait_until(lambda: others_busy(store) == 0, timeout=20, step=0.5):
        pytest.skip(f"{others_busy(store)} other clients are busy on this PostgreSQL: not restarting it")
    engine = Engine(store)
    engine.deploy(delay_flow(delay="PT2S"))
    receiver = Receiver()
    fleet = Fleet(pg_url, tmp_path, receiver, lease=3.0)
    figures = Figures(store, "storm")

    def read(key: str) -> Any:
        try:
            return figures.snapshot()[key]
        except Exception:  # the database is down for a moment: no figures yet
            return None

    def complete() -> bool:
        journeys, deliveries = read("journeys"), read("deliveries")
        return (
            bool(journeys and deliveries)
            and journeys.get("done") == JOURNEYS
            and deliveries.get("sent") == JOURNEYS
        )

    try:
        for slot in range(WORKERS):
            fleet.start(slot)
        engine.ingest(signups(JOURNEYS))
        assert wait_until(lambda: (read("coupon_entered") or 0) >= JOURNEYS // 10, timeout=60), (
            fleet.log_tail()
        )
        before = figures.snapshot()
        downtime = restart(version, name)
        finished = wait_until(complete, timeout=120)
        alive = fleet.alive()
    finally:
        fleet.stop()
        receiver.close()

    now = figures.snapshot()
    per_member = receiver.effects_per_member()
    report = {
        "journeys": JOURNEYS,
        "workers": WORKERS,
        "stepped_before_restart": before["coupon_entered"],
        "restart_seconds": round(downtime, 1),
        "workers_alive_after": len(alive),
        "worker_outage_retries": sum(
            sum(map(path.read_text(errors="replace").count, ("database unavailable", "trying again")))
            for path in tmp_path.glob("worker-*.log")
        ),
        "runs": now["journeys"],
        "steps_after_wait": now["wait_left"],
        "deliveries": now["deliveries"],
        "receiver_effects": len(receiver.effects),
        "receiver_redelivered_keys": len(receiver.redelivered),
        "receiver_duplicate_effects": sum(1 for n in per_member.values() if n > 1),
    }
    (tmp_path / "figures.json").write_text(json.dumps(report, indent=2))
    print("\ndatabase restart fault test:", json.dumps(report))
    assert finished, fleet.log_tail()
    assert sorted(alive) == list(range(WORKERS))  # recovered without being restarted
    assert before["coupon_entered"] < JOURNEYS  # the restart came mid-run
    assert now["journeys"] == {"done": JOURNEYS, "waiting": 0, "active": 0, "exited": 0, "failed": 0}
    assert now["wait_left"] == JOURNEYS and now["coupon_entered"] == JOURNEYS
    assert now["deliveries"] == {"sent": JOURNEYS}
    assert len(per_member) == JOURNEYS and max(per_member.values()) == 1
    assert receiver.bad_signatures == 0
