"""Every answer, pages, API, static files and errors alike, carries the security headers."""

from __future__ import annotations

import pytest

from qunflow.editor.headers import CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    "path", ["/login", "/flows", "/api/flows", "/static/editor/page.js", "/no-such-page"]
)
def test_each_answer_forbids_framing_sniffing_and_foreign_scripts(client, path: str) -> None:
    answer = client.get(path, follow_redirects=False)

    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY and "unsafe-eval" not in CONTENT_SECURITY_POLICY


def test_pages_hold_no_inline_script_style_or_handler(client, sign_in) -> None:
    sign_in("admin")
    for path in ("/login", "/flows", "/runs", "/admin", "/flows/new-one?name=x"):
        page = client.get(path).text
        assert "<style" not in page, path
        assert " onsubmit=" not in page and " onclick=" not in page and "hx-on" not in page, path
        scripts = [s for s in page.split("<script")[1:] if 'type="application/json"' not in s.split(">")[0]]
        assert all(" src=" in s.split(">")[0] for s in scripts), path
