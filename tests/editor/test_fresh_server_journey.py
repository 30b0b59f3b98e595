"""The reference journey on a fresh server (issue #14's "done when"): no demo, groups and members
imported from files with `qunflow import`, the flow published and the README's events posted over
HTTP — and `welcome-vip` runs to the end, with groups' capacities and names as registered."""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib.resources import files
from pathlib import Path

import msgspec
from api_helpers import bearer
from litestar.testing import TestClient

from qunflow.editor.app import create_app
from qunflow.editor.cli import main
from qunflow.editor.services import Services
from qunflow.engine import Registry, SimClock, Store
from qunflow.flows import load_template

GROUPS = (
    "id,name,tags,kind,capacity,owner\n"
    "g-fans-1,粉丝福利 1 群,fans,fans,,\n"
    "g-traffic-1,引流 1 群,traffic,traffic,,\n"
    "vip-1,VIP 尊享 1 群,vip,vip,2,s-1\n"  # one place left: m-0 is in it already
    "vip-2,VIP 尊享 2 群,vip,vip,,\n"
)
MEMBERS = "id,name,groups,attributes.city\nm-0,老会员,vip-1,杭州\nm-1,小林,,上海\n"
GREETING = {
    "id": "greeting",
    "nodes": [
        {"id": "joined", "type": "trigger.member_joined", "config": {"group_tags": ["fans"]}},
        {"id": "hello", "type": "action.send_message",
         "config": {"text": "欢迎 {{ member.name }} 加入{{ group.name }}", "to": "group",
                    "group": "g-fans-1"}},
    ],
    "edges": [{"from": "joined", "to": "hello"}],
}  # fmt: skip


def readme_events() -> list[dict]:
    text = files("qunflow.flows").joinpath("examples", "welcome-vip.events.jsonl").read_text(encoding="utf-8")
    return [msgspec.json.decode(line) for line in text.splitlines() if line.strip()]


def test_welcome_vip_runs_to_the_end_on_a_fresh_server_with_imported_groups_and_members(
    store_url: str, registry: Registry, clock: SimClock, tmp_path: Path
) -> None:
    for name, text in (("groups.csv", GROUPS), ("members.csv", MEMBERS)):
        (tmp_path / name).write_text(text, encoding="utf-8")
        assert main(["import", str(tmp_path / name), "--db", store_url]) == 0

    services = Services(Store.open(store_url), registry, clock)
    try:
        token = services.accounts.create_token("operator", services.now_us())[1]
        ingest = services.accounts.create_token("ingest", services.now_us())[1]
        with TestClient(create_app(services, worker=False)) as client:
            for flow in (load_template("welcome-vip"), GREETING):
                assert client.post("/api/flows", json=flow, headers=bearer(token)).status_code == 200
                answer = client.post(f"/api/flows/{flow['id']}/publish", headers=bearer(token))
                assert answer.status_code == 200, answer.text
            for event in readme_events():  # each when it happens
                clock.advance_to(max(clock.now(), datetime.fromisoformat(event["at"])))
                services.run_due()
                answer = client.post("/api/events", json=event, headers=bearer(ingest))
                assert answer.status_code == 202, answer.text
            for _ in range(7 * 24):  # a week, an hour at a time
                clock.advance_to(clock.now() + timedelta(hours=1))
                services.run_due()

            stats = client.get("/api/flows/welcome-vip/stats", headers=bearer(token)).json()
            assert stats["runs"]["done"] == 3 and stats["runs"]["waiting"] == 0
            deliveries = client.get("/api/deliveries?limit=100", headers=bearer(token)).json()["items"]
            made = sorted((d["flow"], d["node"], d["member"], msgspec.json.encode(d["payload"]).decode())
                          for d in deliveries)  # fmt: skip
            assert made == sorted(
                [
                    ("welcome-vip", "coupon", "m-1", '{"coupon":"welcome-10"}'),
                    ("welcome-vip", "vip", "m-1", '{"group":"vip-1"}'),
                    ("welcome-vip", "coupon", "m-2", '{"coupon":"welcome-10"}'),
                    ("welcome-vip", "nudge", "m-2", '{"text":"阿强，群里今天有新活动哦","to":"member"}'),
                    ("welcome-vip", "coupon", "m-4", '{"coupon":"welcome-10"}'),
                    # vip-1 is full at its own capacity of 2: m-4 goes to the next group of the pool.
                    ("welcome-vip", "vip", "m-4", '{"group":"vip-2"}'),
                    (
                        "greeting",
                        "hello",
                        "m-1",
                        '{"text":"欢迎 小林 加入粉丝福利 1 群","to":"group","group":"g-fans-1"}',
                    ),
                    (
                        "greeting",
                        "hello",
                        "m-2",
                        '{"text":"欢迎 阿强 加入粉丝福利 1 群","to":"group","group":"g-fans-1"}',
                    ),
                    (
                        "greeting",
                        "hello",
                        "m-4",
                        '{"text":"欢迎 Lily 加入粉丝福利 1 群","to":"group","group":"g-fans-1"}',
                    ),
                ]
            )
            member = client.get("/api/members/m-1", headers=bearer(token)).json()["member"]
            assert member["attributes"] == {"city": "上海"} and "new" in member["tags"]
            vip = client.get("/api/groups?kind=vip", headers=bearer(token)).json()["items"]
            assert [(g["id"], g["members"], g["capacity"]) for g in vip] == [
                ("vip-1", 2, 2),
                ("vip-2", 1, None),
            ]
    finally:
        services.close()
