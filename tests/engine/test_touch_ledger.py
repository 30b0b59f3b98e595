"""The store's touch ledger and community settings (DESIGN §18), on SQLite and PostgreSQL alike."""

from __future__ import annotations

from qunflow.engine import Store
from qunflow.engine.community_settings import SettingsCache, decode_settings, from_rows, to_rows


def row(id: int, key: str, member: str, at: int, touch: bool, kind: str = "message") -> tuple:
    """A `deliveries` row in the order of DELIVERY_COLUMNS."""
    return (id, key, "f", "n", 1, member, kind, '{"text":"hi","to":"member"}', at, "pending", 0, at, touch)


def test_touches_are_counted_per_member_since_a_moment(store: Store) -> None:
    with store.transaction() as conn:
        store.insert_deliveries(
            conn,
            [
                row(1, "a", "m-1", 10, True),
                row(2, "b", "m-1", 20, True),
                row(3, "c", "m-1", 30, False),  # a group post by the member's run
                row(4, "d", "m-2", 40, True),
                row(5, "e", "m-3", 50, False, kind="coupon"),
            ],
        )
        skipped = row(6, "f", "m-1", 60, False)[:9] + ("skipped", 0, None, False, "budget")
        store.insert_skipped(conn, [skipped])
    with store.transaction() as conn:
        assert store.touch_times(conn, ["m-1", "m-2", "m-3"], 15) == {"m-1": [20], "m-2": [40]}
        assert store.touch_times(conn, [], 0) == {}
    skipped_row = store.deliveries(member_id="m-1")[-1]
    assert (skipped_row["status"], skipped_row["reason"]) == ("skipped", "budget")


def test_settings_are_stored_and_a_process_sees_a_change_by_its_version(store: Store) -> None:
    cache = SettingsCache(store)
    with store.transaction() as conn:
        assert cache.current(conn).touch_budget is None
    wanted = decode_settings({"touch_budget": {"messages": 2, "per": "PT12H"}, "calendar": "none"})
    store.put_settings(to_rows(wanted), 5, "admin")
    with store.transaction() as conn:
        assert cache.current(conn) == wanted
    assert from_rows({**to_rows(wanted), "future_field": "1"}) == wanted
    # msgspec writes durations in its own ISO 8601 form (PT12H as PT43200S).
    assert store.community_settings() == {
        "touch_budget": {"messages": 2, "per": "PT43200S"},
        "calendar": "none",
    }
    store.put_settings({}, 6)
    with store.transaction() as conn:
        assert cache.current(conn).calendar == "cn"
