"""Headless Chromium for the browser tests (Debian's package, driven by Playwright): where
it is, the mark that skips a test without it (or fails the run when
``LISTGUARD_REQUIRE_BROWSER=1``, as CI sets), and one way to launch it; axe-core (npm's
package, in ``node_modules``) to check a page's accessibility, with its own mark."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

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


# axe-core, the accessibility checker: npm's package, installed by `make test` (npm ci)
AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
if not AXE.is_file() and os.environ.get("LISTGUARD_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"axe-core is required (LISTGUARD_REQUIRE_BROWSER=1): run `npm ci` ({AXE})")
needs_axe = pytest.mark.skipif(
    CHROMIUM is None or not AXE.is_file(),
    reason="Chromium or axe-core (node_modules, `npm ci`) is not installed",
)


def axe_problems(page: Page) -> list[str]:
    """The serious and critical violations axe-core finds on the page, each as its rule,
    impact, help and the first elements concerned. axe is evaluated in the page through
    the browser's debugging protocol, which the page's content policy does not govern:
    the application's policy (no inline script) stays as it is."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        "async () => (await window.axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(v['nodes'])}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]
