"""A member's and a run's fields are declared once (`engine.member`, `engine.run`); the class, the
import record, the store's tables and rows and the API's view are made from the declaration, and the
tables so made are the ones the migrations build."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from qunflow.editor.api.views import MemberView
from qunflow.engine import Store
from qunflow.engine.member import ACTIVITY, KEY, PROFILE, Member, MemberRecord
from qunflow.engine.record import names
from qunflow.engine.run import IDENTITY, STATE, Run
from qunflow.engine.store import rows, schema


def test_everything_about_a_member_follows_its_declaration() -> None:
    profile = names(PROFILE)
    assert MemberRecord.__struct_fields__ == (KEY.name, *profile)
    assert MemberView.__struct_fields__ == (KEY.name, *profile, *names(ACTIVITY))
    assert tuple(c.name for c in schema.members.columns) == (KEY.name, *profile, *names(ACTIVITY))
    assert rows.MEMBER_FIELDS == (KEY.name, "first_seen", *profile, "last_message_at", "contact_lost_at")
    assert set(profile) < set(Member.__slots__) and Member.FIELDS == {KEY.name, *profile}


def test_everything_about_a_run_follows_its_declaration() -> None:
    declared = (*names(IDENTITY), *names(STATE))
    assert rows.RUN_FIELDS == (*declared, *rows.LEASE_COLUMNS)
    assert {c.name for c in schema.runs.columns} == {*declared, *rows.LEASE_COLUMNS}
    assert set(declared) < set(Run.__slots__)


def test_a_member_and_a_run_round_trip_through_their_rows() -> None:
    member = Member(
        "m-1", "小林", "qr", ["a"], ["g"], {"city": "上海"}, 5, 9.5, 2, "A", "koc", True, "s-1", 7, 8, 9
    )
    again = rows.member_from_row(("m-1", 7, *rows.member_values(member)))
    assert {n: getattr(again, n) for n in Member.__slots__ if n not in ("stored", "dirty", "is_new")} == {
        n: getattr(member, n) for n in Member.__slots__ if n not in ("stored", "dirty", "is_new")
    }
    run = Run(1, 1, "f", 2, "m-1", 3, "wait", "waiting", 4, 5, "purchase", 6, 7, {"x": 1}, None, "oops")
    back = rows.run_from_values((1, 1, "f", 2, "m-1", 3, *rows.run_values(run)))
    assert [getattr(back, n) for n in names((*IDENTITY, *STATE))] == [
        getattr(run, n) for n in names((*IDENTITY, *STATE))
    ]


def test_the_tables_made_from_the_declarations_are_those_the_migrations_build(store: Store) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, schema.metadata)
    if store.dialect == "sqlite":
        # SQLite keeps no VARCHAR length, so migration 0002 widens `deliveries.status` on PostgreSQL
        # only (a SQLite ALTER would copy the whole table for nothing).
        differences = [d for d in differences if not _only_a_varchar_length(d)]
    assert differences == []


def _only_a_varchar_length(difference: object) -> bool:
    if not (isinstance(difference, list) and len(difference) == 1 and difference[0][0] == "modify_type"):
        return False
    old, new = difference[0][-2:]
    return {type(old).__name__, type(new).__name__} <= {"VARCHAR", "String"}
