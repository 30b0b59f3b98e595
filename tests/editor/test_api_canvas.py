"""The canvas's server side (SQLite and PostgreSQL): auto-layout (`POST /api/flows/{id}/layout`) and
the node statistics of one flow version (`GET /api/flows/{id}/stats?version=N`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from api_helpers import bearer, joined, welcome_flow

from qunflow.editor.services import Services
from qunflow.engine import SimClock
from qunflow.flows import load_template


def laid_out(client: Any, auth: dict[str, str], body: Any, flow_id: str = "anything") -> Any:
    return client.post(f"/api/flows/{flow_id}/layout", json=body, headers=auth)


def test_layout_puts_nodes_in_columns_by_topological_generation(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    w = load_template("welcome-vip")  # joined → tag_new → wait_1d → coupon → active → vip | nudge
    # The canvas sends its nodes as it has them (configs and positions come along, and are ignored).
    answer = laid_out(client, auth, {"nodes": w["nodes"], "edges": w["edges"]})
    assert answer.status_code == 200, answer.text
    layout = answer.json()
    columns = [["joined"], ["tag_new"], ["wait_1d"], ["coupon"], ["active"], ["vip", "nudge"]]
    assert layout["columns"] == columns
    at = layout["positions"]
    assert set(at) == {n["id"] for n in w["nodes"]}
    xs = [at[column[0]]["x"] for column in layout["columns"]]
    assert xs == sorted(set(xs)), "each generation is a column right of the one before"
    for column in layout["columns"]:
        assert len({at[n]["x"] for n in column}) == 1
    assert at["vip"]["y"] < at["nudge"]["y"], "the `true` branch (the first edge) above the `false` one"
    for edge in w["edges"]:
        assert at[edge["from"]]["x"] < at[edge["to"]]["x"], edge


def test_layout_places_a_node_after_its_furthest_predecessor(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    body = {
        "nodes": [{"id": i} for i in ("start", "long_1", "long_2", "join", "alone")],
        "edges": [
            {"from": "start", "to": "join"},  # the short way
            {"from": "start", "to": "long_1"},
            {"from": "long_1", "to": "long_2"},
            {"from": "long_2", "to": "join"},
        ],
    }
    layout = laid_out(client, auth, body).json()
    assert layout["columns"] == [["start", "alone"], ["long_1"], ["long_2"], ["join"]]


def test_a_draft_with_a_cycle_or_loose_edges_is_laid_out_all_the_same(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    body = {
        "nodes": [{"id": "a"}, {"id": "b"}, {"id": "c"}],
        "edges": [
            {"from": "a", "to": "b"},
            {"from": "b", "to": "c"},
            {"from": "c", "to": "a"},  # back to the start: a cycle
            {"from": "a", "to": "nowhere"},
            {"from": "b", "to": "b"},
        ],
    }
    answer = laid_out(client, auth, body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["columns"] == [["a"], ["b"], ["c"]]
    assert laid_out(client, auth, {"nodes": []}).json() == {"columns": [], "positions": {}}


def test_without_a_body_the_stored_draft_is_laid_out(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    assert client.post("/api/flows", json=welcome_flow(), headers=auth).status_code == 200
    answer = client.post("/api/flows/welcome/layout", headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["columns"] == [["joined"], ["tag"], ["wait"], ["coupon"]]
    assert client.post("/api/flows/nothing-here/layout", headers=auth).status_code == 404


def test_bad_layout_input_is_refused_naming_the_field(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    cases = [
        ({"edges": []}, "nodes"),
        ({"nodes": [{"id": "a"}, {"name": "no id"}]}, "nodes[1].id"),
        ({"nodes": [{"id": 7}]}, "nodes[0].id"),
        ({"nodes": [{"id": ""}]}, "nodes[0].id"),
        ({"nodes": [{"id": "a"}], "edges": [{"from": "a"}]}, "edges[0].to"),
        ({"nodes": [{"id": "a"}], "edges": "a→b"}, "edges"),
        ({"nodes": [{"id": "a"}, {"id": "b"}, {"id": "a"}]}, "nodes[2].id"),
    ]
    for body, field in cases:
        answer = laid_out(client, auth, body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["field"] == field, (body, answer.json())
        assert answer.json()["message"]
    malformed = client.post(
        "/api/flows/a/layout", content=b"{nodes", headers={**auth, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400


def test_a_viewer_may_lay_out_and_nobody_signed_out_may(client, tokens) -> None:
    body = {"nodes": [{"id": "a"}]}
    assert laid_out(client, bearer(tokens["viewer"]), body).status_code == 200
    assert client.post("/api/flows/a/layout", json=body).status_code == 401


def test_stats_per_version_keep_each_version_s_runs_apart(
    client, tokens, services: Services, clock: SimClock
) -> None:
    auth = bearer(tokens["operator"])
    client.post("/api/flows", json=welcome_flow(), headers=auth)
    client.post("/api/flows/welcome/publish", headers=auth)
    client.post("/api/events", json=[joined(f"e-{i}", f"m-{i}") for i in range(3)], headers=auth)
    # Version 2 waits two days; two members join it while version 1's three still wait.
    second = welcome_flow()
    second["nodes"][2]["config"]["duration"] = "P2D"
    client.post("/api/flows", json=second, headers=auth)
    assert client.post("/api/flows/welcome/publish", headers=auth).json()["version"] == 2
    later = "2026-11-22T11:00:00+08:00"
    client.post("/api/events", json=[joined(f"e-{i}", f"m-{i}", at=later) for i in (3, 4)], headers=auth)
    clock.advance_to(clock.now() + timedelta(days=1, hours=2))
    services.run_due()  # version 1's runs go on to the coupon; version 2's still wait

    total = client.get("/api/flows/welcome/stats", headers=auth).json()
    assert "version" not in total and total["versions"] == [2, 1]
    assert total["nodes"]["tag"]["entered"] == 5
    assert total["nodes"]["tag"]["by_version"] == {
        "2": {"entered": 2, "waiting": 0},
        "1": {"entered": 3, "waiting": 0},
    }
    assert total["nodes"]["wait"]["by_version"] == {
        "2": {"entered": 2, "waiting": 2},
        "1": {"entered": 3, "waiting": 0},
    }
    assert total["nodes"]["coupon"]["by_version"] == {"1": {"entered": 3, "waiting": 0}}

    second_only = client.get("/api/flows/welcome/stats?version=2", headers=auth).json()
    assert second_only["version"] == 2
    assert second_only["nodes"]["tag"]["entered"] == 2
    assert second_only["nodes"]["tag"]["ports"] == {"next": 2}
    assert second_only["nodes"]["wait"]["waiting"] == 2
    assert second_only["nodes"]["coupon"]["entered"] == 0
    assert second_only["nodes"]["tag"]["by_version"]["1"] == {"entered": 3, "waiting": 0}  # the split
    first_only = client.get("/api/flows/welcome/stats?version=1", headers=auth).json()
    assert first_only["nodes"]["coupon"]["entered"] == 3
    assert first_only["nodes"]["wait"] == {
        "entered": 3,
        "waiting": 0,
        "ports": {"next": 3},
        "by_version": {"2": {"entered": 2, "waiting": 2}, "1": {"entered": 3, "waiting": 0}},
    }
    assert list(first_only["nodes"]) == ["joined", "tag", "wait", "coupon"]


def test_stats_per_version_refuse_a_version_there_is_not(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    client.post("/api/flows", json=welcome_flow(), headers=auth)
    client.post("/api/flows/welcome/publish", headers=auth)
    assert client.get("/api/flows/welcome/stats?version=9", headers=auth).status_code == 404
    for bad in ("0", "two", "-1"):
        answer = client.get(f"/api/flows/welcome/stats?version={bad}", headers=auth)
        assert answer.status_code == 400, answer.text
        assert "version" in answer.json()["message"]


def test_goal_figures_of_one_version_count_its_journeys_only(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    document = welcome_flow(settings={"goal": {"event": "purchase", "within": "P7D"}})
    client.post("/api/flows", json=document, headers=auth)
    client.post("/api/flows/welcome/publish", headers=auth)
    client.post("/api/events", json=[joined("e-1", "m-1"), joined("e-2", "m-2")], headers=auth)
    client.post("/api/flows", json=welcome_flow(name="v2", settings=document["settings"]), headers=auth)
    client.post("/api/flows/welcome/publish", headers=auth)
    client.post("/api/events", json=[joined("e-3", "m-3", at="2026-11-22T11:00:00+08:00")], headers=auth)
    buy = {"id": "p-3", "type": "purchase", "member": "m-3", "at": "2026-11-22T12:00:00+08:00", "data": {}}
    assert client.post("/api/events", json=buy, headers=auth).status_code == 202

    first = client.get("/api/flows/welcome/stats?version=1", headers=auth).json()
    assert (first["goals"]["entered"], first["goals"]["converted"]) == (2, 0)
    assert first["nodes"]["tag"]["ports_converted"] == {"next": 0}
    second = client.get("/api/flows/welcome/stats?version=2", headers=auth).json()
    assert (second["goals"]["entered"], second["goals"]["converted"]) == (1, 1)
    assert second["nodes"]["tag"]["port_conversion_rates"] == {"next": 1.0}
    total = client.get("/api/flows/welcome/stats", headers=auth).json()
    assert (total["goals"]["entered"], total["goals"]["converted"]) == (3, 1)
