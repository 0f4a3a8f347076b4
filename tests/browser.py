"""Headless Chromium for the browser tests (Debian's package, driven by Playwright): where
it is, the mark that skips a test without it (or fails the run when
``LISTGUARD_REQUIRE_BROWSER=1``, as CI sets), and one way to launch it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("LISTGUARD_REQUIRE_BROWSER") == "1":
    raise RuntimeError("Chromium is required (LISTGUARD_REQUIRE_BROWSER=1) but not installed")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (CI installs Debian's chromium)"
)


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed on leaving."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            # no calls home: the machine's network is closed, and tests must not depend on it
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()
