"""Settlements taken by several processes at once (DESIGN §19): every waiting run is told once."""

from __future__ import annotations

import threading

from documents import flow, node

from qunflow.engine import Engine, Event, SimClock, Store
from qunflow.engine.outbox import Dispatcher

MEMBERS = 120


def test_two_engines_telling_settlements_at_once_resume_each_run_once(
    store_url: str, clock: SimClock
) -> None:
    stores = [Store.open(store_url) for _ in range(2)]
    try:
        engines = [Engine(s, clock=clock, batch_size=25) for s in stores]
        document = flow(
            "f",
            [
                node("t", "trigger.event", event="go"),
                node("hi", "action.send_message", text="你好", wait=True),
                node("ok", "action.add_points", points=1),
            ],
            [("t", "hi"), ("hi", "sent", "ok")],
        )
        engines[0].deploy(document)
        events = [Event(id=f"e-{i}", type="go", at=clock.now(), member=f"m-{i:03}") for i in range(MEMBERS)]
        engines[0].ingest(events)
        # The recording connector settles each at once; the runs have not heard yet.
        assert Dispatcher(stores[0], clock=clock).drain().recorded == MEMBERS

        taken = [0, 0]

        def tell(index: int) -> None:
            taken[index] = engines[index].resume_settled()

        threads = [threading.Thread(target=tell, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        store = stores[0]
        assert sum(taken) == MEMBERS
        assert store.node_counts("f")["f"]["hi"]["port:sent"] == MEMBERS
        assert store.node_counts("f")["f"]["ok"]["entered"] == MEMBERS
        assert {m.points for m in store.all_members().values()} == {1}
        assert store.journey_statuses("f")["f"]["done"] == MEMBERS
        assert all(e.resume_settled() == 0 for e in engines)
    finally:
        for s in stores:
            s.close()
