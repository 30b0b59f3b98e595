"""Security headers on every answer: no framing, no type sniffing, no referrer to other sites, and a
Content-Security-Policy that allows only this server's own scripts and styles.

The pages keep to it: no inline script, style or event-handler attribute (base.html loads
`page.js` and `base.css`; htmx is told not to inject styles or evaluate code). The OpenAPI viewer
at `/schema` is litestar's, which loads its viewer from a CDN with an inline script, so it gets
only the framing and plug-in rules.
"""

from __future__ import annotations

from litestar.types import Message, Scope

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # WeCom's QR codes (渠道活码, join codes) are images on its CDN.
        "img-src 'self' data: https://*.qpic.cn",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
DOCS_POLICY = "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


async def add_security_headers(message: Message, scope: Scope) -> None:
    """A `before_send` hook: adds the headers to each HTTP answer that does not set them itself."""
    if message["type"] != "http.response.start":
        return
    headers = list(message.get("headers") or [])
    present = {bytes(name).lower() for name, _ in headers}
    policy = DOCS_POLICY if scope.get("path", "").startswith("/schema") else CONTENT_SECURITY_POLICY
    for name, value in (*HEADERS.items(), ("content-security-policy", policy)):
        if name.encode() not in present:
            headers.append((name.encode(), value.encode()))
    message["headers"] = headers  # type: ignore[typeddict-unknown-key]
