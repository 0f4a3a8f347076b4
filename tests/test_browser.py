"""The pages in a real browser (headless Chromium, Debian's package, driven by
Playwright) against the real server: a person objects, the team sees it, an admin
manages partners and keys (renting and following oppositions:
``test_browser_operations``). Screenshots of the main pages are saved as artefacts
in ``$LISTGUARD_ARTEFACTS`` (default ``.artefacts/``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import CHROMIUM, chromium, needs_chromium
from tests.web_server import PASSWORD, Site

pytestmark = needs_chromium
ARTEFACTS = Path(os.environ.get("LISTGUARD_ARTEFACTS", Path(__file__).parents[1] / ".artefacts"))

if CHROMIUM is not None:
    from playwright.sync_api import Browser, Page, expect


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="fr-FR")
    yield context.new_page()
    context.close()


def shot(page: Page, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/admin")
    expect(page).to_have_url(f"{site.url}/admin/login")
    page.get_by_label("Adresse email").fill("admin@example.com")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Tableau de bord")).to_be_visible()


def test_a_person_objects_and_the_dashboard_shows_it_pending(site: Site, page: Page) -> None:
    page.goto(f"{site.url}/partenaires")
    expect(page.get_by_role("row", name="Partenaire P1")).to_be_visible()
    shot(page, "partner-list")
    page.get_by_role("link", name="S'opposer").click()
    page.get_by_label("Adresse email").fill("c1@example.com")
    page.get_by_label("Emails").check()
    shot(page, "opposition-form")
    page.get_by_role("button", name="Enregistrer mon opposition").click()
    expect(page.get_by_role("status")).to_contain_text("prend effet immédiatement")
    shot(page, "opposition-recorded")
    sign_in(page, site)
    expect(page.locator("#pending .n")).to_have_text("1")
    expect(page.locator("#propagation")).to_contain_text("P1")
    shot(page, "dashboard")


def test_an_admin_adds_a_partner_to_the_published_list(site: Site, page: Page) -> None:
    sign_in(page, site)
    page.get_by_role("link", name="Partenaires", exact=True).click()
    page.get_by_label("Identifiant").fill("P7")
    page.get_by_label("Nom", exact=True).fill("Jardins Exemple")
    page.get_by_label("Catégorie").fill("jardin")
    page.get_by_label("Listé à partir du").fill("2026-11-01")
    shot(page, "partners")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#partners")).to_contain_text("Jardins Exemple")
    page.goto(f"{site.url}/partenaires")
    expect(page.get_by_role("row", name="Jardins Exemple")).to_be_visible()


def test_public_pages_fit_a_phone_and_work_with_the_keyboard(site: Site, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR")
    phone = context.new_page()
    try:
        for path in ("/", "/partenaires", "/opposition"):
            phone.goto(f"{site.url}{path}")
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"{path} is {width}px wide on a 360px screen"
        shot(phone, "opposition-form-phone")
        # the first Tab reaches the skip link, which leads to the content
        phone.keyboard.press("Tab")
        expect(phone.locator(".skip")).to_be_focused()
        phone.goto(f"{site.url}/partenaires?lang=en")
        expect(phone.get_by_role("heading", name="List of our partners")).to_be_visible()
    finally:
        context.close()


def test_an_admin_creates_a_partner_key_and_revokes_it(site: Site, page: Page) -> None:
    sign_in(page, site)
    page.get_by_role("link", name="Accès").click()
    page.get_by_label("Pour le partenaire").select_option("P2")
    page.get_by_label("Libellé").fill("SFTP de P2")
    page.get_by_role("button", name="Créer la clé").click()
    secret = page.locator("#secret")
    expect(secret).to_contain_text("lg_")
    shot(page, "access")
    prefix = secret.inner_text().split("_")[1]
    row = page.locator("#keys tbody tr", has_text=prefix)
    expect(row).to_contain_text("SFTP de P2")
    row.get_by_role("button", name=f"Révoquer {prefix}").click()
    expect(page.locator("#keys tbody tr", has_text=prefix)).not_to_contain_text("Révoquer")
    expect(page.locator("#secret")).to_have_count(0)  # the key is never shown again


def test_the_api_docs_render_from_this_host_only(site: Site, page: Page) -> None:
    """Swagger UI comes from the application itself, under its content policy: the
    page renders the API's routes, asks no other host and breaks no rule of the policy."""
    elsewhere: list[str] = []
    problems: list[str] = []
    page.on(
        "request",
        lambda r: None if r.url.startswith(site.url) else elsewhere.append(r.url),
    )
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{site.url}/api/docs")
    expect(page.get_by_text("/api/v1/partner/oppositions").first).to_be_visible()
    shot(page, "api-docs")
    assert elsewhere == []
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == []
