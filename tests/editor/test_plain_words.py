"""Words where the pages used to show ids and English (issue #15): a comparison's operator in the
version history, event details in the member's timeline, why a delivery failed, who published."""

from __future__ import annotations

import copy
import re

from api_helpers import visible_text

SPEND = {
    "id": "spend",
    "name": "消费分层",
    "settings": {"goal": {"event": "purchase", "where": [{"field": "data.amount", "op": "gte", "value": 50}],
                          "within": "P7D"}},
    "nodes": [
        {"id": "buy", "type": "trigger.purchase", "config": {}, "label": "下单"},
        {"id": "big", "type": "condition.attribute", "label": "累计满 500 元？",
         "config": {"field": "member.total_spend", "op": "gte", "value": 500}},
        {"id": "vip", "type": "action.add_tag", "config": {"tags": ["vip"]}},
    ],
    "edges": [{"from": "buy", "to": "big"}, {"from": "big", "port": "true", "to": "vip"}],
}  # fmt: skip


def test_the_history_says_a_comparison_in_words_not_its_operator_id(client, sign_in, services) -> None:
    sign_in("operator")
    services.engine.deploy(SPEND)
    changed = copy.deepcopy(SPEND)
    changed["nodes"][1]["config"]["op"] = "lte"
    changed["settings"]["goal"]["where"][0]["op"] = "in"
    changed["settings"]["goal"]["where"][0]["value"] = [50, 100]
    services.engine.deploy(changed)

    page = visible_text(client.get("/flows/spend/history").text)
    v2 = page[page.index("版本 2") : page.index("版本 1")]
    assert re.search(r"累计满 500 元？ · 比较\s*:\s*不少于\s*→\s*不超过", v2), v2
    assert re.search(r"比较: 不少于；.*→.*比较: 属于其中之一", v2), v2
    assert not re.search(r"\b(gte|lte|in)\b", v2), v2

    client.cookies.set("qunflow_lang", "en")
    english = visible_text(client.get("/flows/spend/history").text)
    assert re.search(r"at least\s*→\s*at most", english), english
