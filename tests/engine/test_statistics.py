"""On PostgreSQL the store analyzes its own tables once they have changed a lot, whatever the server's
autovacuum does (`engine.store.statistics`): without statistics every id-list lookup reads the whole
table."""

from __future__ import annotations

from sqlalchemy import text

from qunflow.engine import Store
from qunflow.engine.store.statistics import THRESHOLD


def analyzed(store: Store, table: str) -> bool:
    with store.engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables "
                    "WHERE schemaname = current_schema() AND relname = :t"
                ),
                {"t": table},
            ).scalar()
        )


def test_a_table_that_grew_is_analyzed_and_one_that_did_not_is_left_alone(pg_url: str) -> None:
    store = Store.open(pg_url)
    try:
        store.statistics.enabled = False  # checked here rather than after the commit
        with store.transaction() as conn:
            store.ensure_groups(conn, [f"g-{i}" for i in range(THRESHOLD + 500)])
            # The writer's activity counters reach the statistics views at its commit, not up to a
            # second later.
            conn.execute(text("SELECT pg_stat_force_next_flush()"))
        assert "groups" in store.statistics.refresh()
        assert analyzed(store, "groups")
        assert not analyzed(store, "members")
        assert store.statistics.refresh() == []  # nothing changed since
    finally:
        store.close()
