"""A person's access request in a real browser (headless Chromium, as ``test_browser``),
from the public rights page to the downloaded answer, the owner's operator answering
it in the back office in between. Screenshots of each step go to
``$LISTGUARD_ARTEFACTS`` (default ``.artefacts/``)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from listguard.accounts import add_account
from listguard.web.app import create_app
from tests.browser import CHROMIUM, chromium, needs_chromium
from tests.test_browser import ARTEFACTS
from tests.test_web_proof import _body, _load, _settings, served, smtp_server
from tests.web_server import PASSWORD

pytestmark = needs_chromium

if CHROMIUM is not None:
    from playwright.sync_api import Browser, Page, expect


@pytest.fixture
def smtp() -> Iterator[tuple[int, list[Any]]]:
    with smtp_server() as served:
        yield served


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _shot(page: Page, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"rights-request-{name}.png"), full_page=True)


def _link(received: list[Any], count: int, path: str) -> str:
    deadline = time.monotonic() + 10
    while len(received) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    body = _body(message_from_bytes(received[count - 1].content))
    found = re.search(rf"(http://\S+{re.escape(path)}\?t=\S+)", body)
    assert found, body
    return found.group(1)


def test_a_person_obtains_the_answer_to_an_access_request_from_the_public_page(
    engine: Engine,
    tmp_path: Path,
    smtp: tuple[int, list[Any]],
    browser: Browser,
) -> None:
    _load(engine, tmp_path)
    add_account(engine, "admin@example.com", PASSWORD, "admin")
    port, received = smtp
    app = create_app(engine, _settings(tmp_path, port))
    with served(app) as url:
        person = browser.new_context(locale="fr-FR", accept_downloads=True)
        page = person.new_page()
        page.goto(f"{url}/droits")
        form = page.locator("#request-form")
        form.get_by_label("Accéder à mes données").check()
        form.get_by_label("Adresse email").fill("c1@example.com")
        _shot(page, "1-form")
        form.get_by_role("button", name="Envoyer ma demande").click()
        expect(page.locator("#mailed")).to_contain_text("Si cette adresse figure")
        _shot(page, "2-mailed")

        page.goto(_link(received, 1, "/droits/demande"))
        expect(page.locator("#asked")).to_contain_text("Accéder à mes données")
        _shot(page, "3-confirm")
        page.get_by_role("button", name="Confirmer ma demande").click()
        expect(page.locator("#done")).to_contain_text("Votre demande n° 1 est enregistrée")
        _shot(page, "4-recorded")

        team = browser.new_context(locale="fr-FR")
        office = team.new_page()
        office.goto(f"{url}/admin")
        office.get_by_label("Adresse email").fill("admin@example.com")
        office.get_by_label("Mot de passe").fill(PASSWORD)
        office.get_by_role("button", name="Se connecter").click()
        office.get_by_role("link", name="Demandes de droits").click()
        expect(office.locator("#rights-requests")).to_contain_text("access")
        _shot(office, "5-back-office-list")
        office.get_by_role("link", name="1", exact=True).click()
        expect(office.locator("#request")).to_contain_text("c1@example.com")
        _shot(office, "6-back-office-request")
        office.get_by_role("button", name="Produire et envoyer la réponse").click()
        expect(office.locator("#sent")).to_be_visible()
        expect(office.locator("#status")).to_contain_text("answered")
        _shot(office, "7-back-office-answered")
        team.close()

        with page.expect_download() as download:
            answer = _link(received, 2, "/droits/reponse")
            page.evaluate("href => { window.location.href = href }", answer)
        saved = tmp_path / "reponse.txt"
        download.value.save_as(saved)
        assert download.value.suggested_filename == "reponse-acces.txt"
        text = saved.read_text(encoding="utf-8")
        assert "Fiche C1" in text and "c1@example.com" in text
        person.close()
