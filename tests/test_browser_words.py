"""The pages in words and in shape, in a real browser (Debian's Chromium, Playwright)
against the real server: a DPO follows an exclusion reason to its meaning and legal
source, a person reads the opposition form's problems next to the fields, error
pages speak French (the back office's in its layout), the Access page's buttons fit
a 1280 px screen and the partner list a 390 px phone. Screenshots go to
``$LISTGUARD_ARTEFACTS``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from listguard.oppositions import record_opposition
from listguard.partners import save_partner
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
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


def shot(page: Page, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/admin/login?lang=fr")
    page.get_by_label("Adresse email").fill("admin@example.com")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Tableau de bord")).to_be_visible()


def test_a_dpo_reads_each_exclusion_reason_in_words_with_its_source(site: Site, page: Page) -> None:
    record_opposition(site.engine, channel="email", contact_id="C1", via="letter")
    sign_in(page, site)
    page.get_by_role("link", name="Locations").click()
    page.get_by_label("Commande").fill(
        'partner = "P1"\nchannels = ["email", "sms"]\npurpose = "Offre"\n'
        "campaign_start = 2026-12-01\ncampaign_end = 2026-12-31\nas_of = 2026-11-28\n"
    )
    page.get_by_role("button", name="Prévisualiser").click()
    reason = page.get_by_role("link", name="Coordonnée absente")  # C2 has no mobile
    expect(reason).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("missing_coordinate")
    shot(page, "rental-preview-in-words")
    reason.click()
    expect(page).to_have_url(f"{site.url}/admin/reasons#missing_coordinate")
    row = page.locator("#missing_coordinate")
    expect(row).to_contain_text("Le contact n'a pas de coordonnée pour ce canal.")
    expect(row).to_contain_text("RGPD art. 5(1)(d) (exactitude) [S]")
    expect(page.locator("#opposed")).to_contain_text("RGPD art. 17, 19 et 21; CPCE art. L34-5")
    expect(page.locator("#reasons tbody tr")).to_have_count(16)
    shot(page, "reasons-legend")
    page.goto(f"{site.url}/admin/reasons?lang=en")
    expect(page.locator("#no_information_proof")).to_contain_text("No proof the person was")
    shot(page, "reasons-legend-en")
    # the oppositions, their route and their messages' status, in words
    page.goto(f"{site.url}/admin/oppositions?lang=fr")
    expect(page.locator("#events tbody tr").first).to_contain_text("courrier")
    expect(page.locator("#propagation")).to_contain_text("API seulement")
    shot(page, "oppositions-in-words")
    page.locator("#events tbody tr").first.get_by_role("link").click()
    expect(page.locator("main")).to_contain_text("en attente d'envoi")
    expect(page.locator("main")).not_to_contain_text("pending")


def test_the_opposition_form_shows_each_problem_next_to_its_field(site: Site, page: Page) -> None:
    page.goto(f"{site.url}/opposition?lang=fr")
    # the postal fields look like the others
    look = (
        "e => { const s = getComputedStyle(e); "
        "return [s.width, s.borderTopWidth, s.paddingTop, s.borderRadius].join(' '); }"
    )
    email = page.locator("#email").evaluate(look)
    for name in ("last_name", "first_name", "street", "postal_code", "city"):
        assert page.locator(f"#{name}").evaluate(look) == email, name
    page.get_by_label("Adresse email").fill("pas une adresse")
    page.get_by_label("Nom", exact=True).fill("D" * 201)
    page.get_by_label("Numéro et rue (ou lieu-dit)").fill("3 rue Neuve")
    page.get_by_role("button", name="Enregistrer mon opposition").click()
    expect(page.get_by_role("alert")).to_contain_text("Le formulaire contient des erreurs")
    too_long = page.locator("#last_name-error")
    expect(too_long).to_have_text("Trop long : 200 caractères au plus.")
    expect(page.get_by_label("Nom", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#email-error")).to_have_text("Cette adresse email n'est pas valide.")
    expect(page.get_by_label("Numéro et rue (ou lieu-dit)")).to_have_value("3 rue Neuve")
    # the message sits next to its field: just above it
    message, field = too_long.bounding_box(), page.locator("#last_name").bounding_box()
    assert message is not None and field is not None
    assert 0 <= field["y"] - (message["y"] + message["height"]) < 40
    shot(page, "opposition-form-errors")


def test_error_pages_speak_french_and_the_back_office_keeps_its_layout(
    site: Site, page: Page
) -> None:
    page.goto(f"{site.url}/partenaires?version=abc&lang=fr")
    expect(page.get_by_role("heading", name="Demande non valide")).to_be_visible()
    expect(page.locator("#fields")).to_contain_text("« version »")
    expect(page.get_by_role("link", name="Nos partenaires")).to_be_visible()
    shot(page, "error-public")
    sign_in(page, site)
    page.goto(f"{site.url}/admin/deliveries/99")
    expect(page.get_by_role("heading", name="Page introuvable")).to_be_visible()
    expect(page.get_by_role("link", name="Motifs d'exclusion")).to_be_visible()
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    shot(page, "error-back-office")


def test_the_access_page_revoke_buttons_fit_a_1280px_screen(site: Site, page: Page) -> None:
    sign_in(page, site)
    page.goto(f"{site.url}/admin/access")
    page.get_by_label("Pour le partenaire").select_option("P2")
    page.get_by_label("Libellé").fill("SFTP de P2, serveur de secours à Lyon")
    page.get_by_role("button", name="Créer la clé").click()
    expect(page.locator("#secret")).to_contain_text("lg_")
    buttons = page.locator("#keys").get_by_role("button")
    expect(buttons).to_have_count(4)  # the machine key, P1's, P2's and the new one
    region = page.locator("#keys").locator("xpath=..").bounding_box()
    assert region is not None
    for i in range(4):
        box = buttons.nth(i).bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= min(1280, region["x"] + region["width"]), i
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert page.locator("#keys").evaluate(
        "e => e.parentElement.scrollWidth <= e.parentElement.clientWidth"
    )
    shot(page, "access-1280")


def test_the_partner_list_reads_on_a_phone_without_scrolling_sideways(
    site: Site, browser: Browser
) -> None:
    save_partner(  # a partner of long names, as real ones are
        site.engine,
        {
            "partner_id": "P8",
            "name": "Distribution Multicanale",
            "legal_name": "Société Européenne de Distribution Multicanale et Services Associés",
            "category": "télécommunications_et_fournisseurs_d'accès_à_internet",
            "sector": "commercial",
            "privacy_policy_url": "https://p8.example.com/politique-de-confidentialite",
            "listed_from": "2026-01-01",
        },
        by="admin@example.com",
    )
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    phone = context.new_page()
    try:
        for lang in ("fr", "en"):
            phone.goto(f"{site.url}/partenaires?lang={lang}")
            table = phone.locator("#partners")
            expect(table).to_contain_text("Partenaire P1")
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
            # nothing of the table is hidden in a region to scroll
            assert table.evaluate("e => e.scrollWidth <= e.parentElement.clientWidth")
            assert table.evaluate("e => e.parentElement.scrollWidth <= e.parentElement.clientWidth")
            box = table.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
            # and reads: no cell squeezed into a narrow column, each takes the row's width
            narrowest = table.evaluate(
                "e => Math.min(...[...e.querySelectorAll('tbody th, tbody td')]"
                ".map(c => c.getBoundingClientRect().width))"
            )
            assert narrowest >= 300, f"a cell is {narrowest}px wide"
        expect(phone.locator("#partners td[data-label]").first).to_be_visible()
        shot(phone, "partner-list-phone")
    finally:
        context.close()
