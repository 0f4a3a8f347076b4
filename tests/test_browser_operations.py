"""The back office's operations in a real browser (headless Chromium, Debian's package,
driven by Playwright) against the real server: an operator previews a rental, is asked
for a new preview when the text changed, confirms, lands on the delivery and downloads
its files; and follows the oppositions, per partner and per opposition, and finds one
by the person's email, phone or contact id. Screenshots go to ``$LISTGUARD_ARTEFACTS``
(``test_browser.shot``)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest

from listguard.timeutil import today
from tests.browser import CHROMIUM, chromium, needs_chromium
from tests.test_browser import shot, sign_in
from tests.test_web_oppositions import messages_in_every_state
from tests.web_server import Site

pytestmark = needs_chromium

if CHROMIUM is not None:
    from playwright.sync_api import Browser, Page, expect


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="fr-FR", accept_downloads=True)
    yield context.new_page()
    context.close()


def test_an_operator_previews_confirms_delivers_and_downloads_a_rental(
    site: Site, page: Page
) -> None:
    sign_in(page, site)
    page.get_by_role("link", name="Locations").click()
    sample = page.get_by_label("Commande").input_value()
    start = dt.date.fromisoformat(sample.split("campaign_start = ")[1][:10])
    assert start > today()  # the sample order is a campaign to come
    begins, ends = today() + dt.timedelta(days=3), today() + dt.timedelta(days=40)
    order = (
        'partner = "P1"\nchannels = ["email", "sms"]\npurpose = "Offre"\n'
        f"campaign_start = {begins}\ncampaign_end = {ends}\n"
    )
    page.get_by_label("Commande").fill(order)
    page.get_by_role("button", name="Prévisualiser").click()
    expect(page.locator("#preview-total")).to_contain_text("2 contacts")
    shot(page, "rental-preview")
    # the text changed after its preview: "Livrer" delivers nothing, previews it again
    page.get_by_label("Commande").fill(order.replace("Offre", "Offre de Noël"))
    page.get_by_role("button", name="Livrer (2 contacts)").click()
    expect(page.locator("#changed")).to_contain_text("rien n'a été livré")
    expect(page.get_by_label("Commande")).to_have_value(re.compile('purpose = "Offre de Noël"'))
    shot(page, "rental-changed")
    assert not list((site.tmp / "deliveries").glob("delivery-P1-*"))
    # the new preview delivers after a confirmation
    page.get_by_role("button", name="Livrer (2 contacts)").click()
    expect(page.get_by_role("heading", name="Confirmer la livraison")).to_be_visible()
    expect(page.locator("#confirm-summary")).to_contain_text("P1")
    expect(page.locator("#confirm-order")).to_contain_text("Offre de Noël")
    shot(page, "rental-confirm")
    assert not list((site.tmp / "deliveries").glob("delivery-P1-*"))
    page.get_by_role("button", name="Confirmer et livrer").click()
    expect(page.locator("#delivered")).to_contain_text("Livraison faite")
    expect(page).to_have_url(f"{site.url}/admin/deliveries/3?delivered=1")
    expect(page.locator("#ledger")).to_contain_text("Emails")
    expect(page.locator("#counts")).to_be_visible()
    shot(page, "delivery")
    assert len(list((site.tmp / "deliveries").glob("delivery-P1-*"))) == 1
    with page.expect_download() as download:
        page.locator("#files").get_by_role("link", name="contacts.csv").click()
    got = download.value
    assert got.suggested_filename == "delivery-3-contacts.csv"
    body = got.path().read_text(encoding="utf-8-sig")
    assert "c1@example.com" in body and "c2@example.com" in body


def test_an_operator_follows_the_oppositions_to_each_partner(site: Site, page: Page) -> None:
    ids = messages_in_every_state(site)  # P1 by webhook; P2 has no endpoint
    sign_in(page, site)
    # to forward: not sent yet (P1's retried message, P2's pending and failed ones)
    expect(page.locator("#pending .n")).to_have_text("3")
    expect(page.locator("#overdue .n")).to_have_text("1")
    shot(page, "dashboard-propagation")
    page.locator("#pending").get_by_role("link").click()
    expect(page.get_by_role("heading", name="Par partenaire")).to_be_visible()
    p2 = page.locator("#propagation tbody tr", has_text="P2")
    expect(p2).to_contain_text("API seulement (aucune adresse)")
    shot(page, "oppositions")
    # the oppositions of one person, by their email as typed
    page.get_by_label("Chercher les oppositions d'une personne par").select_option("email")
    page.get_by_label("Valeur").fill(" C2@Example.com ")
    page.get_by_role("button", name="Chercher").click()
    expect(page.get_by_role("heading", name="de cette personne")).to_be_visible()
    rows = page.locator("#events tbody tr")
    expect(rows).to_have_count(2)  # C2's email (retrying) and C2 by id (parked)
    shot(page, "oppositions-search")
    page.get_by_role("link", name=str(ids["parked"]), exact=True).click()
    expect(page.locator("#messages")).to_contain_text("Abandonné après 12 tentatives")
    shot(page, "opposition")
    # a partner without an endpoint: its messages wait for it to pull them
    page.goto(f"{site.url}/admin/oppositions")
    page.locator("#propagation").get_by_role("link", name="P2", exact=True).click()
    expect(page.locator("#reach-note")).to_contain_text("n'a pas d'adresse de réception")
    expect(page.locator("#messages")).to_contain_text("récupérer ses messages par l'API")
    shot(page, "opposition-partner")
    # one partner's overdue messages
    page.goto(f"{site.url}/admin/oppositions")
    row = page.locator("#propagation tbody tr", has_text="P1")
    row.get_by_role("link", name="1").last.click()
    expect(page.get_by_role("heading", name="Messages (overdue)")).to_be_visible()
    expect(page.locator("#messages")).to_contain_text("en attente de l'accusé de réception")
