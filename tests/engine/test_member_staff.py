"""`member.staff` (DESIGN §20): a member who adds a staff account is owned by it; a second add keeps
the first owner; when the owner and the member are no longer friends the member has none. Stored on
both backends."""

from __future__ import annotations

from documents import event

from qunflow.engine import Engine
from qunflow.engine.event import convert_events

T = "2026-11-22T10:00:00+08:00"


def ingest(engine: Engine, *events: dict) -> None:
    engine.ingest(convert_events(list(events)))


def test_the_staff_account_added_owns_the_member(engine: Engine) -> None:
    ingest(engine, event("a1", "contact_added", T, member="wm-1", data={"staff": "zhangsan"}))
    assert engine.store.get_member("wm-1").staff == "zhangsan"
    ingest(engine, event("a2", "contact_added", T, member="wm-1", data={"staff": "lisi"}))
    assert engine.store.get_member("wm-1").staff == "zhangsan"
    ingest(engine, event("d1", "contact_deleted", T, member="wm-1", data={"by": "customer", "staff": "lisi"}))
    assert engine.store.get_member("wm-1").staff == "zhangsan"
    ingest(
        engine, event("d2", "contact_deleted", T, member="wm-1", data={"by": "staff", "staff": "zhangsan"})
    )
    assert engine.store.get_member("wm-1").staff is None
    ingest(engine, event("a3", "contact_added", T, member="wm-1", data={"staff": "lisi"}))
    assert engine.store.get_member("wm-1").staff == "lisi"


def test_an_add_without_staff_leaves_the_owner_unset(engine: Engine) -> None:
    ingest(engine, event("a1", "contact_added", T, member="m-1"))
    assert engine.store.get_member("m-1").staff is None


def test_a_contact_deleted_event_needs_a_member(engine: Engine) -> None:
    import pytest

    from qunflow.engine.errors import EventInvalid

    with pytest.raises(EventInvalid, match="member"):
        convert_events([event("d1", "contact_deleted", T, member=None, data={"by": "staff"})])
