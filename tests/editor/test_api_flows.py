"""`/api/flows`: drafts, validation, publishing, pause/resume, preview and per-node statistics."""

from __future__ import annotations

from datetime import timedelta

from api_helpers import bearer, joined, welcome_flow

from qunflow.editor.services import Services
from qunflow.engine import SimClock


def test_a_draft_is_stored_and_published_as_numbered_versions(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    saved = client.post("/api/flows", json=welcome_flow(), headers=auth)
    assert saved.status_code == 200, saved.text
    assert saved.json()["draft"]["nodes"][0]["label"] == "入群"
    assert saved.json()["versions"] == []

    assert client.post("/api/flows/welcome/publish", headers=auth).json() == {"flow": "welcome", "version": 1}
    client.post("/api/flows", json=welcome_flow(name="欢迎 v2"), headers=auth)
    assert client.post("/api/flows/welcome/publish", headers=auth).json()["version"] == 2

    detail = client.get("/api/flows/welcome", headers=auth).json()
    assert detail["live_version"] == 2
    assert [v["version"] for v in detail["versions"]] == [1, 2]
    assert detail["versions"][0]["document"]["name"] == "欢迎"
    assert detail["versions"][1]["document"]["name"] == "欢迎 v2"
    listed = client.get("/api/flows", headers=auth).json()
    assert [(f["id"], f["live_version"], f["paused"]) for f in listed] == [("welcome", 2, False)]


def test_an_invalid_flow_gets_422_with_every_problem_and_stores_nothing(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    document = welcome_flow()
    document["nodes"].append({"id": "ghost", "type": "action.nope", "config": {}})
    document["edges"].append({"from": "coupon", "to": "joined"})
    answer = client.post("/api/flows", json=document, headers=auth)
    assert answer.status_code == 422
    problems = answer.json()["problems"]
    ghost = {"node": "ghost", "path": "type", "message": "unknown node type `action.nope`"}
    assert {**ghost, "zh": "未知的节点类型 action.nope", "en": "unknown node type action.nope"} in problems
    assert any(p["node"] == "joined" and "trigger" in p["message"] for p in problems)
    assert client.get("/api/flows", headers=auth).json() == []
    assert client.get("/api/flows/welcome", headers=auth).status_code == 404


def test_a_bad_config_names_the_node_and_field(client, tokens) -> None:
    document = welcome_flow()
    document["nodes"][2]["config"] = {"duration": "soon"}
    answer = client.post("/api/flows", json=document, headers=bearer(tokens["admin"]))
    assert answer.status_code == 422
    assert [(p["node"], p["path"]) for p in answer.json()["problems"]] == [("wait", "config.duration")]


def test_validate_checks_the_stored_draft_or_the_body(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    client.post("/api/flows", json=welcome_flow(), headers=auth)
    assert client.post("/api/flows/welcome/validate", headers=auth).json() == {"valid": True, "problems": []}
    broken = welcome_flow()
    broken["edges"] = broken["edges"][:1]
    answer = client.post("/api/flows/welcome/validate", json=broken, headers=auth).json()
    assert answer["valid"] is False
    assert {p["node"] for p in answer["problems"]} == {"wait", "coupon"}
    assert client.post("/api/flows/missing/validate", headers=auth).status_code == 404


def test_validate_and_publish_say_which_node_names_a_flow_there_is_not(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    caller = welcome_flow("caller")
    caller["nodes"].append({"id": "hand-on", "type": "action.start_flow", "config": {"flow": "nurture"}})
    caller["edges"].append({"from": "coupon", "to": "hand-on"})
    assert client.post("/api/flows", json=caller, headers=auth).status_code == 200  # drafts may
    problem = {"node": "hand-on", "path": "config.flow", "message": "there is no flow `nurture`",
               "zh": "没有流程 nurture", "en": "there is no flow nurture"}  # fmt: skip
    assert client.post("/api/flows/caller/validate", headers=auth).json() == {
        "valid": False,
        "problems": [problem],
    }
    answer = client.post("/api/flows/caller/publish", headers=auth)
    assert answer.status_code == 422 and answer.json()["problems"] == [problem]
    client.post("/api/flows", json=welcome_flow("nurture"), headers=auth)
    assert client.post("/api/flows/caller/publish", headers=auth).json() == {"flow": "caller", "version": 1}


def test_publish_pause_resume_of_an_unknown_flow_is_404(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    for action in ("publish", "pause", "resume"):
        answer = client.post(f"/api/flows/nope/{action}", headers=auth)
        assert answer.status_code == 404
        assert answer.json()["error"] == "not_found"


def test_a_paused_flow_starts_no_one_and_resumes(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    client.post("/api/flows", json=welcome_flow(), headers=auth)
    client.post("/api/flows/welcome/publish", headers=auth)
    assert client.post("/api/flows/welcome/pause", headers=auth).json() == {"flow": "welcome", "paused": True}
    client.post("/api/events", json=joined("e-1", "m-1"), headers=auth)
    assert client.get("/api/runs", headers=auth).json()["items"] == []

    assert client.post("/api/flows/welcome/resume", headers=auth).json()["paused"] is False
    client.post("/api/events", json=joined("e-2", "m-2"), headers=auth)
    runs = client.get("/api/runs", headers=auth).json()["items"]
    assert [(r["member"], r["node"], r["status"]) for r in runs] == [("m-2", "wait", "waiting")]


def test_preview_runs_the_draft_and_stores_nothing(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    client.post("/api/flows", json=welcome_flow(), headers=auth)
    body = {"events": [joined("p-1", "m-1"), joined("p-2", "m-2")], "until": "P2D"}
    answer = client.post("/api/flows/welcome/preview", json=body, headers=auth)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert [(d["member"], d["kind"]) for d in report["deliveries"]] == [("m-1", "coupon"), ("m-2", "coupon")]
    assert report["nodes"]["welcome"] == {"joined": 2, "tag": 2, "wait": 2, "coupon": 2}
    assert client.get("/api/runs", headers=auth).json()["items"] == []
    assert client.get("/api/deliveries", headers=auth).json()["items"] == []
    assert client.get("/api/members/m-1", headers=auth).status_code == 404


def test_preview_of_a_flow_that_starts_another_knows_the_stored_flows(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    client.post("/api/flows", json=welcome_flow("nurture"), headers=auth)
    client.post("/api/flows", json=welcome_flow(), headers=auth)
    canvas = welcome_flow()
    canvas["nodes"].append({"id": "hand-on", "type": "action.start_flow", "config": {"flow": "nurture"}})
    canvas["edges"].append({"from": "tag", "to": "hand-on"})
    body = {"flow": canvas, "events": [joined("p-1", "m-1")]}
    report = client.post("/api/flows/welcome/preview", json=body, headers=auth).json()
    assert report["nodes"]["welcome"]["hand-on"] == 1  # `nurture` is not simulated: the run goes on
    canvas["nodes"][-1]["config"] = {"flow": "nurture-typo"}
    answer = client.post("/api/flows/welcome/preview", json=body, headers=auth)
    assert answer.status_code == 422
    assert [(p["node"], p["path"]) for p in answer.json()["problems"]] == [("hand-on", "config.flow")]


def test_preview_of_the_canvas_and_its_errors(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    client.post("/api/flows", json=welcome_flow(), headers=auth)
    canvas = welcome_flow()
    canvas["nodes"][3]["config"] = {"coupon": "canvas-5"}
    answer = client.post(
        "/api/flows/welcome/preview", json={"flow": canvas, "events": [joined("p-1", "m-1")]}, headers=auth
    )
    assert [d["payload"] for d in answer.json()["deliveries"]] == [{"coupon": "canvas-5"}]

    bad_event = {"events": [joined("p-1", "m-1"), {"id": "p-2", "type": "message", "at": "yesterday"}]}
    answer = client.post("/api/flows/welcome/preview", json=bad_event, headers=auth)
    assert answer.status_code == 422
    assert answer.json()["field"] == "events[1].at"

    vague = {"events": [joined("p-1", "m-1")], "until": "tomorrow"}
    answer = client.post("/api/flows/welcome/preview", json=vague, headers=auth)
    assert answer.status_code == 422
    assert answer.json()["message"].startswith("until:")

    too_long = {"events": [joined("p-1", "m-1")], "until": "P5000D"}
    answer = client.post("/api/flows/welcome/preview", json=too_long, headers=auth)
    assert answer.status_code == 422
    assert "until" in answer.json()["message"]


def test_stats_count_entered_waiting_and_ports(client, tokens, services: Services, clock: SimClock) -> None:
    auth = bearer(tokens["operator"])
    client.post("/api/flows", json=welcome_flow(), headers=auth)
    client.post("/api/flows/welcome/publish", headers=auth)
    client.post("/api/events", json=[joined("e-1", "m-1"), joined("e-2", "m-2")], headers=auth)
    stats = client.get("/api/flows/welcome/stats", headers=auth).json()
    assert stats["runs"]["waiting"] == 2
    assert stats["nodes"]["wait"]["waiting"] == 2
    assert stats["nodes"]["tag"]["entered"] == 2
    assert stats["nodes"]["coupon"] == {"entered": 0, "waiting": 0, "ports": {}}

    clock.advance_to(clock.now() + timedelta(days=1, seconds=1))
    services.run_due()
    stats = client.get("/api/flows/welcome/stats", headers=auth).json()
    assert stats["runs"]["done"] == 2
    assert stats["nodes"]["wait"]["waiting"] == 0
    assert stats["nodes"]["coupon"]["entered"] == 2
    assert list(stats["nodes"]) == ["joined", "tag", "wait", "coupon"]


def test_preview_of_a_cron_only_flow_starts_at_start(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    post = {
        "id": "daily",
        "nodes": [
            {"id": "nine", "type": "trigger.schedule", "config": {"cron": "0 9 * * *"}},
            {
                "id": "say",
                "type": "action.send_message",
                "config": {"to": "group", "group": "g-1", "text": "早"},
            },
        ],
        "edges": [{"from": "nine", "to": "say"}],
    }
    client.post("/api/flows", json=post, headers=auth)
    body = {"start": "2026-11-22T00:00:00+08:00", "until": "P2D"}
    answer = client.post("/api/flows/daily/preview", json=body, headers=auth)
    assert answer.status_code == 200, answer.text
    assert [d["at"] for d in answer.json()["deliveries"]] == [
        "2026-11-22T09:00:00+08:00",
        "2026-11-23T09:00:00+08:00",
    ]

    late = {"start": "2027-01-01T00:00:00+08:00", "events": [joined("p-1", "m-1")]}
    answer = client.post("/api/flows/daily/preview", json=late, headers=auth)
    assert answer.status_code == 422
    assert answer.json()["message"].startswith("start:")


def test_an_unfinished_draft_is_saved_with_its_problems_and_cannot_be_published(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    client.post("/api/flows", json=welcome_flow(), headers=auth)
    assert client.post("/api/flows/welcome/publish", headers=auth).status_code == 200
    unfinished = welcome_flow()
    unfinished["nodes"].append({"id": "later", "type": "action.send_coupon", "config": {}, "label": "稍后"})
    unfinished["nodes"][2]["config"] = {}
    answer = client.put("/api/flows/welcome/draft", json=unfinished, headers=auth)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["valid"] is False
    assert {(p["node"], p["path"]) for p in found["problems"]} >= {("wait", "config"), ("later", "config")}
    assert all(p["zh"] and p["en"] for p in found["problems"])
    # Stored as it was sent; the live version is untouched, and publishing refuses the draft.
    detail = client.get("/api/flows/welcome", headers=auth).json()
    assert [n["id"] for n in detail["draft"]["nodes"]][-1] == "later" and detail["live_version"] == 1
    refused = client.post("/api/flows/welcome/publish", headers=auth)
    assert (
        refused.status_code == 422
        and client.get("/api/flows/welcome", headers=auth).json()["live_version"] == 1
    )
    # Fixed, it saves clean and publishes.
    fixed = welcome_flow()
    assert client.put("/api/flows/welcome/draft", json=fixed, headers=auth).json() == {
        "valid": True,
        "problems": [],
    }
    assert client.post("/api/flows/welcome/publish", headers=auth).json()["version"] == 2


def test_an_unfinished_draft_still_needs_its_id_and_lists(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    other = client.put("/api/flows/welcome/draft", json=welcome_flow("other"), headers=auth)
    assert other.status_code == 422 and other.json()["message"].startswith("id:")
    bad_nodes = client.put("/api/flows/welcome/draft", json={"id": "welcome", "nodes": "x"}, headers=auth)
    assert bad_nodes.status_code == 422 and bad_nodes.json()["message"].startswith("nodes:")
    assert client.get("/api/flows/welcome", headers=auth).status_code == 404  # nothing stored
    viewer = client.put("/api/flows/welcome/draft", json=welcome_flow(), headers=bearer(tokens["viewer"]))
    assert viewer.status_code == 403


def test_stats_report_goal_figures_per_node_port_and_split_branch(
    client, tokens, services: Services, clock: SimClock
) -> None:
    auth = bearer(tokens["operator"])
    document = welcome_flow()
    document["settings"] = {"goal": {"event": "purchase", "within": "P7D"}, "holdout": 0}
    document["nodes"].insert(
        1,
        {
            "id": "ab",
            "type": "condition.split",
            "config": {"branches": [{"port": "a", "percent": 50}, {"port": "b", "percent": 50}]},
        },
    )
    document["edges"][0] = {"from": "joined", "to": "ab"}
    document["edges"] += [{"from": "ab", "port": "a", "to": "tag"}, {"from": "ab", "port": "b", "to": "tag"}]
    assert client.post("/api/flows", json=document, headers=auth).status_code == 200
    client.post("/api/flows/welcome/publish", headers=auth)
    members = [f"m-{i}" for i in range(10)]
    client.post("/api/events", json=[joined(f"e-{m}", m) for m in members], headers=auth)
    buy = {"id": "p-1", "type": "purchase", "member": "m-3", "at": "2026-11-22T12:00:00+08:00", "data": {}}
    assert client.post("/api/events", json=buy, headers=auth).status_code == 202

    stats = client.get("/api/flows/welcome/stats", headers=auth).json()
    goals = stats["goals"]
    assert goals["goal"] == {"event": "purchase", "within": "P7D", "where": None, "exit": True}
    assert (goals["entered"], goals["converted"], goals["conversion_rate"]) == (10, 1, 0.1)
    assert goals["holdout"] == {"entered": 0, "converted": 0, "conversion_rate": None}
    assert goals["lift"] is None
    a, b = goals["by_branch"]["ab:a"], goals["by_branch"]["ab:b"]
    assert a["entered"] + b["entered"] == 10 and a["converted"] + b["converted"] == 1
    (result,) = goals["ab"]
    assert (result["node"], result["control"], result["variant"], result["outcome"]) == (
        "ab",
        "a",
        "b",
        "too_small",
    )
    assert result["zh"].startswith("样本太少")
    nodes = stats["nodes"]
    assert (nodes["joined"]["converted"], nodes["joined"]["conversion_rate"]) == (1, 0.1)
    assert nodes["tag"]["ports_converted"] == {"next": 1}
    assert nodes["tag"]["port_conversion_rates"] == {"next": 0.1}
    # The converted member's run exited at the wait, for its goal.
    assert nodes["wait"]["waiting"] == 9 and nodes["wait"]["converted"] == 1
    (run,) = client.get("/api/runs?member=m-3", headers=auth).json()["items"]
    assert (run["status"], run["reason"]) == ("exited", "goal")
    assert "coupon" not in nodes or "conversion_rate" not in nodes["coupon"]


def test_a_bad_goal_or_holdout_gets_422_naming_the_setting(client, tokens) -> None:
    auth = bearer(tokens["operator"])
    document = welcome_flow(settings={"goal": {"event": "purchase", "within": "PT0S"}, "holdout": 60})
    answer = client.post("/api/flows", json=document, headers=auth)
    assert answer.status_code == 422
    paths = [p["path"] for p in answer.json()["problems"]]
    assert "settings.holdout" in paths or "settings.goal.within" in paths
    assert client.get("/api/flows/welcome", headers=auth).status_code == 404
    document = welcome_flow(settings={"goal": {"event": "purchase", "within": "PT0S"}})
    (problem,) = client.post("/api/flows", json=document, headers=auth).json()["problems"]
    assert (problem["path"], problem["zh"]) == ("settings.goal.within", "目标的时间窗应大于零（如 P7D）")
