"""A real Chromium (Debian's), driven by Playwright, against a real portal."""

from __future__ import annotations

import shutil
import time

import pytest

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"]  # fmt: skip
# Playwright gives up on a launch, a page or a selector after 30 s: a busy machine may need longer.
LIMIT_MS = 120_000


def until(check, what: str, *, within: float = LIMIT_MS / 1000) -> None:
    """Poll `check` until it is true; fail, saying what, past the bound (a bound, never a wait)."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"not within {within:g} s: {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")  # Playwright's loop must be gone before other tests use asyncio
def browser():
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: `apt-get install chromium` (.ci/run does this)", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS, timeout=LIMIT_MS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser):
    contexts = []

    def open_page():
        context = browser.new_context(accept_downloads=True)
        context.set_default_timeout(LIMIT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def sign_in(page, base_url: str, login: str, password: str, path: str = "/"):
    page.goto(base_url + path)
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
