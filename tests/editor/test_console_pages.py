"""The operator console (issue #15): the runs filter, the deliveries page, names instead of ids."""

from __future__ import annotations

import re

import msgspec
from api_helpers import joined, welcome_flow

from qunflow.editor.services import Services
from qunflow.engine import Event


def _two_members_waiting(services: Services) -> None:
    services.engine.deploy(welcome_flow())
    services.engine.ingest(
        [msgspec.convert(joined("e-1", "m-1"), type=Event), msgspec.convert(joined("e-2", "m-2"), type=Event)]
    )


def test_the_runs_filter_treats_empty_fields_as_no_filter(client, sign_in, services: Services) -> None:
    sign_in("operator")
    _two_members_waiting(services)
    for query in ("flow=&status=&member=", "flow=welcome&status=&member=", "flow=&status=waiting&member="):
        answer = client.get(f"/runs?{query}")
        assert answer.status_code == 200, query
        assert "Validation failed" not in answer.text, query
        assert len(re.findall(r'<tr id="run-\d+"', answer.text)) == 2, query
    only = client.get("/runs?flow=&status=&member=m-2").text
    assert len(re.findall(r'<tr id="run-\d+"', only)) == 1 and 'href="/members/m-2"' in only
    assert 'value="m-2"' in only  # the form keeps what was asked
    none = client.get("/runs?flow=&status=failed&member=").text
    assert "run-" not in none and "没有符合条件的旅程" in none
    # The htmx part of the page answers the same way.
    part = client.get("/runs?flow=&status=waiting&member=m-1", headers={"HX-Request": "true"})
    assert part.status_code == 200 and part.text.lstrip().startswith('<div id="qf-runs"')
    assert len(re.findall(r'<tr id="run-\d+"', part.text)) == 1
