"""For browser tests: Debian's Chromium launched through Playwright, and an operator's page signed in to
a running server that fails the test on any script error (and, when asked, on any console error)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from browser_server import CHROMIUM, CHROMIUM_ARGS, OPERATOR

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed on leaving."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def sign_in(page: Page, next_path: str = "/flows", user: tuple[str, str] = OPERATOR) -> None:
    """Sign in as `user` (name, password; the server's operator unless told) through the login form,
    landing on `next_path`."""
    page.goto(f"/login?next={next_path}")
    page.fill("input[name=username]", user[0])
    page.fill("input[name=password]", user[1])
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"**{next_path}")


def csrf_token(page: Page) -> str:
    """The signed-in page's CSRF token, for the `X-CSRF-Token` header of an API call."""
    return next(c["value"] for c in page.context.cookies() if c["name"] == "qunflow_csrf")


@contextmanager
def operator_page(
    browser: Browser, base_url: str, *, next_path: str = "/flows", height: int = 768, console: bool = False
) -> Iterator[Page]:
    """A new context's page (zh-CN, 1366 wide) signed in as the operator; on leaving, the test fails if the
    page raised a script error, or with `console` logged an error to the console."""
    viewport = {"width": 1366, "height": height}
    context = browser.new_context(viewport=viewport, base_url=base_url, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    if console:
        page.on("console", lambda message: _console_error(message, errors))
    sign_in(page, next_path)
    yield page
    context.close()
    assert not errors, f"errors in the page: {errors}"


def _console_error(message: Any, errors: list[str]) -> None:
    # The browser's own favicon request is not the page's doing.
    if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
        errors.append(f"{message.text} ({message.location.get('url')})")
