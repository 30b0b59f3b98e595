"""Node counters per flow version (SQLite and PostgreSQL): runs count under the version they are on,
the totals stay what they were, and migration 0013 gives the counters kept before it a version where
that can be known."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from alembic import command
from alembic.config import Config
from documents import START, event, flow, node
from sqlalchemy import text

from qunflow.engine import Engine, SimClock, Store
from qunflow.engine.event import convert_events
from qunflow.engine.store.store import MIGRATIONS


def welcome(duration: str = "P1D") -> dict[str, Any]:
    return flow(
        "f",
        [
            node("t", "trigger.member_joined"),
            node("w", "wait.delay", duration=duration),
            node("c", "action.send_coupon", coupon="c-1"),
        ],
        [("t", "w"), ("w", "c")],
    )


def joins(engine: Engine, members: list[str], hours: float = 0) -> None:
    at = (START + timedelta(hours=hours)).isoformat()
    engine.ingest(
        convert_events([event(f"j-{m}", "member_joined", at, member=m, group="g") for m in members])
    )


def test_runs_count_under_their_own_version(engine: Engine, store: Store, clock: SimClock) -> None:
    engine.deploy(welcome())
    joins(engine, ["a", "b", "c"])
    assert engine.deploy(welcome("P2D")) == 2
    clock.advance_to(START + timedelta(hours=1))
    joins(engine, ["d", "e"], hours=1)
    # The first three runs finish on version 1, after version 2 went live.
    clock.advance_to(START + timedelta(days=1, hours=1))
    engine.run_due()

    by_version = store.version_node_counts("f")
    assert by_version[1]["t"] == {"entered": 3, "port:next": 3}
    assert by_version[1]["c"]["entered"] == 3
    assert by_version[2]["t"] == {"entered": 2, "port:next": 2}
    assert "c" not in by_version[2]  # still waiting their two days
    assert store.node_counts("f")["f"]["t"] == {"entered": 5, "port:next": 5}
    assert store.waiting_by_version("f") == {2: {"w": 2}}
    assert store.waiting_by_node("f") == {"w": 2}


def test_counters_without_a_version_count_under_version_0(store: Store) -> None:
    with store.transaction() as conn:
        store.add_counts(conn, {("f", "a", "entered"): 2, ("f", "a", "entered", 3): 1})
    assert store.version_node_counts("f") == {0: {"a": {"entered": 2}}, 3: {"a": {"entered": 1}}}
    assert store.node_counts("f") == {"f": {"a": {"entered": 3}}}


# A counter as stores before migration 0013 kept it (no version).
OLD_COUNTER = "INSERT INTO node_counts (flow_id, node, counter, value) VALUES (:f, 'n', 'entered', 7)"


def _migrate(store: Store, revision: str, up: bool = True) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store._writer.begin() as conn:
        config.attributes["connection"] = conn
        (command.upgrade if up else command.downgrade)(config, revision)


def test_migration_0013_gives_old_counters_the_one_version_that_ran(store_url: str) -> None:
    store = Store(store_url)
    try:
        _migrate(store, "0012")
        with store._writer.begin() as conn:
            versions = [
                ("one", 1, None),  # published before statuses were kept
                ("approved", 1, "rejected"),
                ("approved", 2, "approved"),
                ("many", 1, "published"),
                ("many", 2, "published"),
            ]
            for flow_id, version, status in versions:
                conn.execute(
                    text(
                        "INSERT INTO flow_versions (flow_id, version, document, published_at, status)"
                        " VALUES (:f, :v, '{}', 0, :s)"
                    ),
                    {"f": flow_id, "v": version, "s": status},
                )
            for flow_id in ("one", "approved", "many", "never"):
                conn.execute(text(OLD_COUNTER), {"f": flow_id})
        _migrate(store, "head")
        assert store.version_node_counts("one") == {1: {"n": {"entered": 7}}}
        assert store.version_node_counts("approved") == {2: {"n": {"entered": 7}}}
        assert store.version_node_counts("many") == {0: {"n": {"entered": 7}}}
        assert store.version_node_counts("never") == {0: {"n": {"entered": 7}}}
        with store.transaction() as conn:  # the new key takes new counts
            store.add_counts(conn, {("many", "n", "entered", 2): 1, ("many", "n", "entered", 0): 1})
        assert store.version_node_counts("many") == {0: {"n": {"entered": 8}}, 2: {"n": {"entered": 1}}}

        _migrate(store, "0012", up=False)  # back: the versions are added up
        with store.engine.connect() as conn:
            rows = conn.execute(text("SELECT value FROM node_counts WHERE flow_id = 'many'")).all()
        assert rows == [(9,)]
    finally:
        store.close()
