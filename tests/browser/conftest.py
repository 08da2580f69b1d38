"""Real-browser tests: Playwright driving Debian's Chromium (never a downloaded browser) against the live server."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, ViewportSize, sync_playwright

# The fake gateways, real servers on loopback, as the billing tests run them.
from tests.billing.conftest import cryptomus, localstripe, stripe_settings  # noqa: F401

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}


def shot(page: Page, name: str) -> None:
    """Save a full-page screenshot as test-artifacts/<name>.png, for a reviewer to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install the chromium package (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests, but {reason}", pytrace=False)
        pytest.skip(reason)
    # The sync API keeps an asyncio loop running in this thread, which Django reads as an async context and
    # refuses ORM calls in. The test code is plain sync code, so allow it, while the loop runs only: hence
    # module scope, so that the loop is gone before the next module's tests.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as driver:
            yield driver
    finally:
        if before is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # Playwright gives each launch a fresh temporary profile (it refuses --user-data-dir with launch()).
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def browser_errors() -> list[str]:
    """What the browser reported as errors during the test; a test that expects one removes it."""
    return []


@pytest.fixture
def page(browser: Browser, live_server, browser_errors: list[str]) -> Iterator[Page]:
    """A fresh browser session (no cookies) on the live server; an error the browser reports fails the test."""
    # Rate-limit counters of earlier runs (sign-ups per address) live in the shared cache.
    cache.clear()
    context = browser.new_context(viewport=DESKTOP, locale="en-US", base_url=live_server.url)
    context.set_default_timeout(10_000)
    tab = context.new_page()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            browser_errors.append(f"{tab.url}: {message.text} ({message.location.get('url', '')})")

    tab.on("console", console)
    tab.on("pageerror", lambda exc: browser_errors.append(f"{tab.url}: {exc}"))
    try:
        yield tab
    finally:
        context.close()
    assert not browser_errors, "the browser reported errors:\n" + "\n".join(browser_errors)
