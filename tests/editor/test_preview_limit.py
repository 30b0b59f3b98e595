"""The editor's preview is bounded by work (#13.14) and says where it stopped."""

from __future__ import annotations

import pytest
from api_helpers import bearer
from documents import flow, node

from qunflow.editor.api import flows as flows_api
from qunflow.engine.simulate import WorkLimit

START = "2026-11-22T00:00:00+08:00"


def every_minute() -> dict[str, object]:
    return flow(
        "c",
        [
            node("t", "trigger.schedule", cron="* * * * *"),
            node("m", "action.send_message", text="hi", to="group", group="g-1"),
        ],
        [("t", "m")],
    )


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_preview_answers_with_truncated(client, tokens, monkeypatch) -> None:
    assert flows_api.PREVIEW_LIMIT.moments <= 1_000  # an every-minute cron over a year would not answer
    monkeypatch.setattr(flows_api, "PREVIEW_LIMIT", WorkLimit(20, 10_000))
    admin = bearer(tokens["admin"])
    assert client.post("/api/flows", json=every_minute(), headers=admin).status_code == 200
    answer = client.post(
        "/api/flows/c/preview", json={"events": [], "start": START, "until": "P366D"}, headers=admin
    )
    assert answer.status_code == 200, answer.text
    truncated = answer.json()["truncated"]
    assert truncated["reason"] == "moments" and truncated["limit"] == 20
    assert truncated["at"].startswith("2026-11-22T00:")
