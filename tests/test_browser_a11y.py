"""Every public page, in French and English, and the back office's main pages pass
axe-core's accessibility check with no serious or critical violation, in a real
browser (Debian's Chromium) against the real server. axe-core is npm's package
(``package-lock.json``, installed by ``make test``), evaluated in each page by the
test: the application serves nothing of it and its content policy is unchanged."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from listguard.links import Unsubscribe, make_token
from listguard.oppositions import record_opposition
from listguard.rights_requests import check, record
from tests.browser import CHROMIUM, axe_problems, chromium, needs_axe
from tests.web_server import PASSWORD, Site

pytestmark = needs_axe

if CHROMIUM is not None:
    from playwright.sync_api import Browser, Page, expect


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _check(page: Page, url: str, problems: dict[str, list[str]]) -> None:
    page.goto(url)
    found = axe_problems(page)
    if found:
        problems[url] = found


def test_public_pages_have_no_serious_accessibility_violation(site: Site, browser: Browser) -> None:
    with site.engine.begin() as conn:
        unsubscribe = make_token(conn, Unsubscribe("email", "all", contact_id="C1"))
    problems: dict[str, list[str]] = {}
    for lang in ("fr", "en"):
        context = browser.new_context(locale=f"{lang}-FR")
        page = context.new_page()
        try:
            for path in (
                "/",
                "/partenaires",
                "/opposition",
                "/droits",
                f"/desinscription/{unsubscribe}",
                "/desinscription/not-a-link",  # the link's error page
                "/nulle-part",  # page not found
                "/partenaires?version=abc",  # a parameter of the wrong type
            ):
                sep = "&" if "?" in path else "?"
                _check(page, f"{site.url}{path}{sep}lang={lang}", problems)
            # the opposition form with its errors next to the fields
            page.goto(f"{site.url}/opposition?lang={lang}")
            page.locator("#email").fill("not an email")
            page.locator("#last_name").fill("x" * 201)
            page.locator("form button[type=submit]").click()
            expect(page.locator("#email-error")).to_be_visible()
            found = axe_problems(page)
            if found:
                problems[f"opposition form with errors ({lang})"] = found
        finally:
            context.close()
    assert problems == {}


def test_back_office_pages_have_no_serious_accessibility_violation(
    site: Site, browser: Browser
) -> None:
    # an opposition to follow, partner by partner
    record_opposition(site.engine, channel="email", contact_id="C1", via="letter")
    # a rights request to answer, with its forms (answer, extend, refuse), and an erasure
    # with its box to tick
    record(site.engine, check("access", email="c1@example.com"), via="letter")
    record(site.engine, check("erasure", email="c1@example.com"), via="letter")
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    problems: dict[str, list[str]] = {}
    try:
        _check(page, f"{site.url}/admin/login", problems)
        page.get_by_label("Adresse email").fill("admin@example.com")
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        expect(page.get_by_role("heading", name="Tableau de bord")).to_be_visible()
        for lang in ("fr", "en"):
            for path in (
                "/admin",
                "/admin?rentable=P1",  # with what a rental would exclude, by reason
                "/admin/contacts?contact=C1",
                "/admin/rentals",
                "/admin/deliveries",
                "/admin/deliveries/1",
                "/admin/oppositions",
                "/admin/oppositions/1",
                "/admin/oppositions/partner?partner=P1&state=pending",
                "/admin/rights",
                "/admin/rights/1",
                "/admin/rights/2",
                "/admin/partners",
                "/admin/access",
                "/admin/audit",
                "/admin/reasons",
                "/admin/deliveries/99",  # the error page, inside the back office
            ):
                sep = "&" if "?" in path else "?"
                _check(page, f"{site.url}{path}{sep}lang={lang}", problems)
            # one person's oppositions, searched as the operator does: by the form's POST
            page.goto(f"{site.url}/admin/oppositions?lang={lang}")
            page.locator("#search-kind").select_option("contact_id")
            page.locator("#search-value").fill("C1")
            page.locator("#search button[type=submit]").click()
            expect(page.locator("#events")).to_be_visible()
            assert "C1" not in page.url
            found = axe_problems(page)
            if found:
                problems[f"one person's oppositions ({lang})"] = found
    finally:
        context.close()
    assert problems == {}
