"""The API's documentation in a real browser (Debian's Chromium, driven by Playwright):
Swagger UI comes from the application itself, under the pages' content policy, and
works there: a key of the owner's systems is given to it, an owner API route is tried
from the page and answered. Every request the page makes is recorded with its host;
any other host fails the test. Screenshots in ``$LISTGUARD_ARTEFACTS``."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser import CHROMIUM, chromium, needs_chromium
from tests.test_browser import shot
from tests.web_server import Site

pytestmark = needs_chromium

if CHROMIUM is not None:
    from playwright.sync_api import Page, expect


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium() as browser:
        context = browser.new_context(locale="en-GB")
        yield context.new_page()
        context.close()


def test_the_api_docs_page_has_the_pages_content_policy(site: Site) -> None:
    with httpx.Client(base_url=site.url) as c:
        docs, page = c.get("/api/docs"), c.get("/partenaires")
    assert docs.status_code == page.status_code == 200
    assert docs.headers["content-security-policy"] == page.headers["content-security-policy"]
    assert "default-src 'self'" in docs.headers["content-security-policy"]


def test_an_owner_route_is_tried_from_the_docs_asking_no_other_host(site: Site, page: Page) -> None:
    host = urlsplit(site.url).netloc
    hosts: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: hosts.append(urlsplit(r.url).netloc or r.url))
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{site.url}/api/docs")
    expect(page.get_by_text("/api/v1/owner/rentals/deliver").first).to_be_visible()
    shot(page, "api-docs-owner")
    # the key, given to Swagger UI's "Authorize" dialog
    page.get_by_role("button", name="Authorize").first.click()
    page.locator("#auth-bearer-value").fill(site.machine)
    page.get_by_role("button", name="Apply credentials").click()
    page.locator(".modal-ux").get_by_role("button", name="Close").click()
    # the list of deliveries, tried from the page
    operation = page.locator("#operations-owner-owner_deliveries_api_v1_owner_deliveries_get")
    operation.locator(".opblock-summary").first.click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    answer = operation.locator(".live-responses-table tbody .response-col_status").first
    expect(answer).to_have_text("200")
    expect(operation.locator(".live-responses-table")).to_contain_text('"delivery_id": 2')
    shot(page, "api-docs-tried")
    assert hosts and set(hosts) == {host}, sorted(set(hosts))
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == []
