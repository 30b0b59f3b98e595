"""`qunflow serve --demo`: the templates live and a community with history, loaded once."""

from __future__ import annotations

from api_helpers import bearer

from qunflow.editor.demo import load_demo
from qunflow.editor.services import Services
from qunflow.flows import load_template, template_names


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


def test_the_demo_registers_its_community_data_like_an_operator_would(
    client, services: Services, tokens
) -> None:
    load_demo(services)
    auth = bearer(tokens["viewer"])
    vip = client.get("/api/groups/vip-1", headers=auth).json()
    assert (vip["name"], vip["capacity"], vip["owner"]) == ("VIP 尊享 1 群", 200, "staff-wang")
    staff = {s["id"]: s["name"] for s in client.get("/api/staff", headers=auth).json()["items"]}
    assert (staff["staff-wang"], staff["staff-li"]) == ("王店长", "李客服")
    # Every staff account a template names has a name: the task inbox never shows a bare id.
    for template in template_names():
        for node in load_template(template)["nodes"]:
            if isinstance(node["config"].get("staff"), str):
                assert staff.get(node["config"]["staff"]), (template, node["id"])
    assert "fans" in {t["name"] for t in client.get("/api/tags", headers=auth).json()}
    assert client.get("/api/content/welcome-script", headers=auth).json()["kind"] == "text"
