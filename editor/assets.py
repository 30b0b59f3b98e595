"""The browser libraries vendored under `editor/static/vendor/` (see its README), pinned."""

from __future__ import annotations

HTMX_VERSION = "2.0.11"
DRAWFLOW_VERSION = "0.0.60"
LUCIDE_VERSION = "1.62.0"
UPLOT_VERSION = "1.6.32"
VENDORED: dict[str, str] = {
    "htmx": HTMX_VERSION,
    "drawflow": DRAWFLOW_VERSION,
    "lucide": LUCIDE_VERSION,
    "uplot": UPLOT_VERSION,
}
STATIC_PATH = "/static"
