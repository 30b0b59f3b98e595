"""The editor's server-side parts: auto-layout, version changes, message catalogues, vendored assets."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest
from babel.messages.extract import extract_javascript
from jinja2.ext import babel_extract

from qunflow.editor.assets import DRAWFLOW_VERSION, HTMX_VERSION, UPLOT_VERSION
from qunflow.editor.changes import flow_changes
from qunflow.editor.i18n import DEFAULT_LANGUAGE, LANGUAGES, catalogue, choose_language, translator
from qunflow.editor.layout import layered_positions, with_layout
from qunflow.engine import default_registry
from qunflow.flows import load_template

EDITOR = Path(__file__).resolve().parents[2] / "editor"


def w_without_positions() -> dict:
    flow = load_template("welcome-vip")
    return {**flow, "nodes": [{k: v for k, v in n.items() if k != "position"} for n in flow["nodes"]]}


def test_layout_puts_each_node_right_of_its_predecessors() -> None:
    flow = with_layout(w_without_positions())
    at = {n["id"]: n["position"] for n in flow["nodes"]}
    for edge in flow["edges"]:
        assert at[edge["from"]]["x"] < at[edge["to"]]["x"], edge
    assert at["vip"]["x"] == at["nudge"]["x"] and at["vip"]["y"] != at["nudge"]["y"]
    assert len({(p["x"], p["y"]) for p in at.values()}) == len(at), "two nodes on one spot"


def test_layout_keeps_positions_that_exist() -> None:
    flow = load_template("welcome-vip")
    flow["nodes"][3] = {k: v for k, v in flow["nodes"][3].items() if k != "position"}
    placed = with_layout(flow)
    assert [n["position"] for i, n in enumerate(placed["nodes"]) if i != 3] == [
        n["position"] for i, n in enumerate(flow["nodes"]) if i != 3
    ]
    assert "position" in placed["nodes"][3]


def test_layout_survives_a_cycle_and_unknown_edge_ends() -> None:
    positions = layered_positions(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "a"), ("a", "nowhere")])
    assert set(positions) == {"a", "b", "c"}
    assert positions["a"][0] < positions["b"][0] < positions["c"][0]


def test_changes_name_added_removed_and_reconfigured_nodes_and_edges() -> None:
    before = load_template("welcome-vip")
    after = msgspec.json.decode(msgspec.json.encode(before))
    after["nodes"][2]["config"]["duration"] = "P2D"
    after["nodes"] = [n for n in after["nodes"] if n["id"] != "nudge"]
    after["nodes"].append({"id": "bye", "type": "action.exit", "config": {}})
    after["edges"] = [e for e in after["edges"] if e["to"] != "nudge"] + [
        {"from": "active", "port": "false", "to": "bye"}
    ]
    after["nodes"][0]["position"] = {"x": 999, "y": 999}
    changes = {(c.what, c.subject, c.field) for c in flow_changes(before, after)}
    assert changes == {
        ("node_config", "wait_1d", "duration"),  # one change per field that changed
        ("node_removed", "nudge", ""),
        ("node_added", "bye", ""),
        ("edge_removed", "active false nudge", ""),  # (from, port, to)
        ("edge_added", "active false bye", ""),
    }


def test_the_first_version_lists_its_nodes_as_added() -> None:
    changes = flow_changes(None, load_template("welcome-vip"))
    assert {c.what for c in changes} == {"node_added", "edge_added"}


def _message_ids() -> set[str]:
    ids: set[str] = set()
    for path in (EDITOR / "templates").rglob("*.html"):
        with path.open("rb") as file:
            ids |= {m for _, _, m, _ in babel_extract(file, ["_"], [], {}) if isinstance(m, str)}
    for path in (EDITOR / "static" / "editor").glob("*.js"):
        with path.open("rb") as file:
            ids |= {m for _, _, m, _ in extract_javascript(file, ["t"], [], {}) if isinstance(m, str)}
    return ids


def test_every_text_of_the_pages_and_the_editor_has_a_chinese_translation() -> None:
    missing = _message_ids() - set(catalogue("zh"))
    assert not missing, f"add these to editor/i18n/zh_Hans/LC_MESSAGES/messages.po: {sorted(missing)}"


def test_every_built_in_config_field_has_a_chinese_label() -> None:
    names: set[str] = set()

    def walk(schema: object) -> None:
        if isinstance(schema, dict):
            names.update((schema.get("properties") or {}).keys())
            for value in schema.values():
                walk(value)
        elif isinstance(schema, list):
            for value in schema:
                walk(value)

    for node_type in default_registry():
        walk(node_type.describe()["schema"])
    labels = {name.replace("_", " ").capitalize() for name in names}
    assert labels - set(catalogue("zh")) == set()


def test_chinese_is_the_default_and_english_the_switch() -> None:
    assert DEFAULT_LANGUAGE == "zh" and set(LANGUAGES) == {"zh", "en"}
    assert choose_language(None) == "zh"
    assert choose_language("fr") == "zh"
    assert choose_language("en") == "en"
    assert translator("zh")("Save draft") == "保存草稿"
    assert translator("en")("Save draft") == "Save draft"
    assert translator("en")("Action nodes") == "Actions"
    assert translator("zh")("{n} problems found", n=3) == "发现 3 个问题"


def test_vendored_htmx_is_2_0_x_and_matches_its_pin() -> None:
    assert re.fullmatch(r"2\.0\.\d+", HTMX_VERSION)
    source = (EDITOR / "static" / "vendor" / "htmx" / "htmx.min.js").read_text()
    assert f'version:"{HTMX_VERSION}"' in source


@pytest.mark.parametrize("library", ["htmx", "drawflow", "uplot"])
def test_vendored_libraries_carry_their_licence_and_are_listed(library: str) -> None:
    folder = EDITOR / "static" / "vendor"
    assert (folder / library / "LICENSE").read_text().strip()
    readme = (folder / "README.md").read_text()
    version = {"htmx": HTMX_VERSION, "drawflow": DRAWFLOW_VERSION, "uplot": UPLOT_VERSION}[library]
    assert re.search(rf"{library}.*\| {re.escape(version)} \|", readme)
