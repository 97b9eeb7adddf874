"""The console in a real browser: Debian's Chromium driven by Playwright, against the real server.

`make test` installs Chromium (`/usr/bin/chromium`); Playwright's own browser download cannot reach
the internet here. Screenshots go to `test-artifacts/screenshots/` (not committed).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, ViewportSize, sync_playwright

from fraudhawk.settings import Settings
from tests.helpers import RunningServer, boto_client

CHROMIUM = os.environ.get("FRAUDHAWK_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
# Chromium as root in a container, with nothing reaching for the network at start
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
WIDE: ViewportSize = {"width": 1280, "height": 800}
NARROW: ViewportSize = {"width": 390, "height": 844}  # a phone


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield launched
    launched.close()


class ConsoleSession:
    """A browser tab on a running server's console, with boto3 beside it to set up or check state."""

    def __init__(self, server: RunningServer, context: BrowserContext, page: Page) -> None:
        self.server = server
        self.url = server.url
        self.context = context
        self.page = page
        self.afd: Any = boto_client(server.url)
        self.errors: list[str] = []
        # A page's script error is a bug: collected here, and checked by `close`.
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("dialog", lambda dialog: dialog.accept())  # confirm() before deleting: the user says yes

    def go(self, path: str) -> Page:
        response = self.page.goto(self.url + path)
        assert response is not None
        assert response.status < 500, f"{path} answered {response.status}"
        return self.page

    def shot(self, name: str) -> Path:
        """A full-page screenshot, named for the page it shows (test-artifacts/screenshots/NAME.png)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def console_settings(tmp_path: Path) -> Settings:
    return Settings.load(data_dir=tmp_path / "data", environ={})


@pytest.fixture
def console(browser: Browser, console_settings: Settings) -> Iterator[ConsoleSession]:
    """A fresh server (its own data directory) and a fresh browser context at 1280x800."""
    with RunningServer(console_settings) as server:
        context = browser.new_context(viewport=WIDE)
        context.set_default_timeout(15_000)
        session = ConsoleSession(server, context, context.new_page())
        try:
            yield session
            assert not session.errors, f"script errors on the page: {session.errors}"
        finally:
            context.close()
