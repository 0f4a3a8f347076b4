"""The pages speak in words: codes in words with the legend of the exclusion reasons,
error pages in the visitor's language (the back office's inside its layout), and a
public form that re-renders with each problem next to its field, never raw JSON."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
from sqlalchemy import Engine, text

from listguard.oppositions import record_opposition
from listguard.rules.reasons import REASONS
from listguard.web.app import create_app
from tests.scenario import Scenario
from tests.web_server import PASSWORD, Site, form_token, serving, web_settings


def _sign_in(c: httpx.Client) -> None:
    token = form_token(c.get("/admin/login").text)
    signed = c.post(
        "/admin/login", data={"email": "admin@example.com", "password": PASSWORD, "token": token}
    )
    assert signed.status_code == 303


def test_the_legend_gives_each_reason_in_words_with_its_source(site: Site) -> None:
    with site.client() as c:
        assert c.get("/admin/reasons").headers["location"] == "/admin/login"
        _sign_in(c)
        page = c.get("/admin/reasons", params={"lang": "fr"})
        assert page.status_code == 200
        rows = re.findall(r'<tr id="([a-z_]+)">(.*?)</tr>', page.text, re.S)
        assert [code for code, _row in rows] == [r.code for r in REASONS]
        row = html.unescape(dict(rows)["no_information_proof"])
        assert "Pas de preuve d'information" in row
        assert "aucune preuve que la personne a été informée" in row
        assert "CNIL, transmission à des partenaires (28/12/2018); RGPD art. 13 et 21 [S]" in row
        english = c.get("/admin/reasons", params={"lang": "en"}).text
        assert "No proof the person was informed" in english
        assert "the transfer to partners" in english
        # the back office's menu leads to it
        assert '<a href="/admin/reasons">Exclusion reasons</a>' in english


def test_back_office_codes_are_shown_in_words(site: Site) -> None:
    record_opposition(site.engine, channel="email", contact_id="C1", via="letter")
    with site.client() as c:
        _sign_in(c)
        events = c.get("/admin/oppositions", params={"lang": "fr"}).text
        row = re.search(r'<table id="events">.*?<tbody><tr>(.*?)</tr>', events, re.S)
        assert row is not None
        assert "<td>courrier</td>" in row.group(1) and "<td>Emails</td>" in row.group(1)
        assert "<td>responsable et partenaires</td>" in row.group(1)
        assert ">letter<" not in events and ">pending<" not in events
        one = c.get("/admin/oppositions/1", params={"lang": "fr"}).text
        assert "<td>en attente d&#39;envoi" in one and ">pending" not in one  # to P1
        partners = c.get("/admin/partners").text
        assert "<td>commercial</td>" in partners and ">service public</option>" in partners
        deliveries = c.get("/admin/deliveries").text
        assert "<td>Emails, SMS</td>" in deliveries
        # a refused request, counted by its reason, is read in words on the dashboard
        assert c.get("/desinscription/not-a-token").status_code == 404
        site.web.refusals.flush()
        board = c.get("/admin").text
        assert "<td>lien de désinscription non valide</td>" in board


def test_error_pages_are_in_words_and_the_back_office_keeps_its_layout(site: Site) -> None:
    with site.client() as c:
        missing = c.get("/nulle-part", params={"lang": "fr"})
        assert missing.status_code == 404 and "<h1>Page introuvable</h1>" in missing.text
        english = c.get("/nowhere", params={"lang": "en"})
        assert "<h1>Page not found</h1>" in english.text
        # a page's parameter of the wrong type: the error page naming it, not JSON
        wrong = c.get("/partenaires", params={"version": "abc", "lang": "fr"})
        assert wrong.status_code == 422 and "text/html" in wrong.headers["content-type"]
        assert "<h1>Demande non valide</h1>" in wrong.text and "« version »" in wrong.text
        # the API keeps its JSON
        api = c.get("/api/v1/nowhere")
        assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
        _sign_in(c)
        gone = c.get("/admin/deliveries/99", params={"lang": "fr"})
        assert gone.status_code == 404 and "<h1>Page introuvable</h1>" in gone.text
        assert '<a href="/admin/reasons">' in gone.text  # the back office's menu
        assert "<span>cette livraison n&#39;existe pas</span>" in gone.text
        bad = c.get("/admin/consents/expiring", params={"within": "x"})
        assert bad.status_code == 422 and "« within »" in bad.text
        assert '<a href="/admin/reasons">' in bad.text


def test_the_opposition_form_names_each_problem_next_to_its_field(site: Site) -> None:
    with site.client() as c:
        token = form_token(c.get("/opposition", params={"lang": "fr"}).text)
        form = {
            "token": token,
            "channel": "all",
            "scope": "all",
            "last_name": "x" * 201,
            "street": "3 rue Neuve",
            "postal_code": "75001",
            "city": "Paris",
            "email": "not an email",
        }
        again = c.post("/opposition", data=form)
        assert again.status_code == 422 and "text/html" in again.headers["content-type"]
        page = again.text
        assert re.search(
            r'id="last_name-error">Trop long : 200 caractères au plus.</p>\s*'
            r'<input id="last_name" [^>]*aria-describedby="last_name-error" aria-invalid="true"',
            page,
        )
        assert 'id="email-error">Cette adresse email n&#39;est pas valide.</p>' in page
        assert 'value="3 rue Neuve"' in page  # what was typed is kept
        assert 'href="#last_name"' in page  # the summary leads to the field
        # nothing was recorded
        with site.engine.connect() as conn:
            recorded = "SELECT count(*) FROM events WHERE event = 'opposition'"
            assert conn.execute(text(recorded)).scalar_one() == 0
        missing = c.post("/opposition", data={"token": token, "channel": "all", "scope": "all"})
        assert missing.status_code == 422
        assert 'class="hint field-error" id="either">Indiquez une adresse email' in missing.text
        # the consent proof's form: a value too long is one that is not valid, in words
        long = c.post("/droits/preuve", data={"token": token, "email": "a" * 400 + "@x.fr"})
        assert long.status_code == 422 and "text/html" in long.headers["content-type"]
        assert "Cette adresse email n&#39;est pas valide." in long.text


def test_a_server_error_is_the_error_page_in_words(engine: Engine, tmp_path: Path) -> None:
    Scenario(engine, tmp_path).load()
    app = create_app(engine, web_settings(tmp_path))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/api/v1/boom")
    def api_boom() -> None:
        raise RuntimeError("a bug")

    with serving(app) as url:
        with httpx.Client(base_url=url) as c:
            api = c.get("/api/v1/boom")
            assert api.status_code == 500 and api.text == "Internal Server Error"
        with httpx.Client(base_url=url) as c:  # uvicorn closes the connection after an error
            page = c.get("/boom", params={"lang": "fr"})
            assert page.status_code == 500 and "<h1>Erreur du serveur</h1>" in page.text
            assert "a bug" not in page.text


def test_the_other_languages_link_keeps_the_pages_query(site: Site) -> None:
    with site.client() as c:
        page = c.get("/partenaires", params={"version": "1", "lang": "fr"}).text
        assert 'href="?version=1&amp;lang=en" lang="en"' in page
        plain = c.get("/partenaires", params={"lang": "en"}).text
        assert 'href="?lang=fr" lang="fr"' in plain
