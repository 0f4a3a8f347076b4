"""A person obtains their consent proof in a real browser (headless Chromium, as
``test_browser``): they fill the rights page's form, follow the link of the mail the
SMTP server received, and get the PDF."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from sqlalchemy import Engine

from listguard.web.app import create_app
from tests.browser import CHROMIUM, chromium, needs_chromium
from tests.test_web_proof import _body, _load, _settings, served, smtp_server

pytestmark = needs_chromium

if CHROMIUM is not None:
    from playwright.sync_api import Browser, expect


@pytest.fixture
def smtp() -> Iterator[tuple[int, list[Any]]]:
    with smtp_server() as served:
        yield served


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_a_person_asks_for_the_proof_and_follows_the_mailed_link_to_the_pdf(
    engine: Engine,
    tmp_path: Path,
    smtp: tuple[int, list[Any]],
    browser: Browser,
) -> None:
    _load(engine, tmp_path)
    port, received = smtp
    app = create_app(engine, _settings(tmp_path, port))
    with served(app) as url:
        context = browser.new_context(locale="fr-FR", accept_downloads=True)
        page = context.new_page()
        page.goto(f"{url}/droits")
        form = page.locator("#proof-form")  # the rights request form has its own
        form.get_by_label("Adresse email").fill("c1@example.com")
        form.get_by_role("button", name="Recevoir le lien ou le code").click()
        expect(page.locator("#mailed")).to_contain_text("Si cette adresse figure")
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        link = re.search(
            r"(http://\S+/droits/preuve\?t=\S+)", _body(message_from_bytes(received[0].content))
        )
        assert link
        with page.expect_download() as download:
            page.evaluate("href => { window.location.href = href }", link.group(1))
        saved = tmp_path / "preuve.pdf"
        download.value.save_as(saved)
        assert download.value.suggested_filename == "preuve-consentements.pdf"
        document = pdfium.PdfDocument(saved.read_bytes())
        assert "c1@example.com" in document[0].get_textpage().get_text_range()
        document.close()
        context.close()
