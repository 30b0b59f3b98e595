"""`qunflow serve --demo`: the templates live and a community with history, loaded once."""

from __future__ import annotations

from api_helpers import bearer

from qunflow.editor.demo import load_demo
from qunflow.editor.services import Services
from qunflow.flows import template_names


def test_the_demo_shows_live_flows_counts_and_deliveries(client, services: Services, tokens) -> None:
    summary = load_demo(services)
    assert summary is not None
    assert sorted(summary.flows + summary.skipped) == template_names()
    assert summary.flows and summary.members >= 40 and summary.deliveries > 0

    auth = bearer(tokens["viewer"])
    flows = client.get("/api/flows", headers=auth).json()
    assert {f["id"] for f in flows} == set(summary.flows)
    assert all(f["live_version"] == 1 and not f["paused"] for f in flows)
    assert sum(sum(f["runs"].values()) for f in flows) > 0
    assert client.get("/api/deliveries", headers=auth).json()["items"]
    member = client.get("/api/members/demo-m-01", headers=auth).json()
    assert member["member"]["name"] == "小林"
    assert member["timeline"]


def test_the_demo_loads_once(services: Services) -> None:
    first = load_demo(services)
    assert first is not None
    assert load_demo(services) is None
    assert len(services.store.list_flows()) == len(first.flows)
