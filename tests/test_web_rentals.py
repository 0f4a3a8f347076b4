"""Renting from the back office without surprises: a rental is previewed, confirmed on a
page of its own, and delivers exactly the order previewed (the preview's digest travels
with the form), landing on the delivery's page; the sample order is a campaign to come.
And the service the owner's API shares with it (``renting.preview``)."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from listguard import audit
from listguard.renting.order import parse_order
from listguard.renting.preview import (
    OrderChanged,
    deliver_previewed,
    order_digest,
    preview_order,
    read_order,
)
from listguard.timeutil import today
from listguard.web.admin.rentals import sample_order
from tests.web_server import PASSWORD, Site, form_token


def _sign_in(c: httpx.Client) -> None:
    token = form_token(c.get("/admin/login").text)
    c.post(
        "/admin/login", data={"email": "admin@example.com", "password": PASSWORD, "token": token}
    )


def test_an_operator_previews_confirms_then_delivers_the_order_previewed(site: Site) -> None:
    order = (
        'partner = "P1"\nchannels = ["email"]\npurpose = "Offre"\n'
        "campaign_start = 2026-12-01\ncampaign_end = 2026-12-31\nas_of = 2026-11-28\n"
    )

    def deliveries() -> int:
        with site.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM deliveries")).scalar_one())

    with site.client() as c:
        _sign_in(c)
        csrf = form_token(c.get("/admin/rentals").text, "csrf")
        bad = c.post("/admin/rentals", data={"csrf": csrf, "order": "partner = 3"})
        assert bad.status_code == 422 and "est obligatoire" in bad.text
        shown = c.post("/admin/rentals", data={"csrf": csrf, "order": order})
        assert shown.status_code == 200 and 'id="preview-total"><strong>2</strong>' in shown.text
        assert "précède aujourd&#39;hui" in shown.text and "dedupe --base" not in shown.text
        with site.engine.begin() as conn:  # clusters computed before the contacts came
            audit.append(conn, "clusters_computed", None, {"clusters": 0}, 1)
        shown = c.post("/admin/rentals", data={"csrf": csrf, "order": order})
        assert "modifié(s) depuis la dernière recherche" in shown.text
        in_english = c.post("/admin/rentals?lang=en", data={"csrf": csrf, "order": order})
        assert "contact(s) were imported or changed after" in in_english.text
        digest = form_token(shown.text, "digest")
        assert deliveries() == 2  # a preview records nothing
        # the form as a browser sends it (lines ended by CRLF) is the same order
        sent = {"csrf": csrf, "order": order.replace("\n", "\r\n"), "digest": digest}
        asked = c.post("/admin/rentals", data={**sent, "action": "confirm"})
        assert asked.status_code == 200 and 'id="confirm"' in asked.text
        assert form_token(asked.text, "digest") == digest and deliveries() == 2
        # a text changed after its preview, or no digest at all: previewed again, not delivered
        changed = order.replace('"Offre"', '"Autre offre"')
        for data in ({**sent, "order": changed}, {**sent, "digest": ""}):
            for action in ("confirm", "deliver"):
                again = c.post("/admin/rentals", data={**data, "action": action})
                assert again.status_code == 409 and 'id="changed"' in again.text
                assert 'id="preview-total"' in again.text and deliveries() == 2
        assert form_token(again.text, "digest") == digest  # the order as sent, previewed
        done = c.post("/admin/rentals", data={**sent, "action": "deliver"})
        assert done.status_code == 303
        assert done.headers["location"] == "/admin/deliveries/3?delivered=1"
        landed = c.get(done.headers["location"])
        assert 'id="delivered"' in landed.text and 'id="counts"' in landed.text
        assert 'href="/admin/deliveries/3/contacts.csv"' in landed.text
        assert "c1@example.com" in c.get("/admin/deliveries/3/contacts.csv").text
        with site.engine.connect() as conn:
            recorded = conn.execute(text("SELECT order_text FROM deliveries WHERE id = 3"))
            assert recorded.scalar_one() == order  # the order previewed, as recorded
        # the confirmation sent twice (a second click): the delivery made, not another
        twice = c.post("/admin/rentals", data={**sent, "action": "deliver"})
        assert twice.status_code == 303 and twice.headers["location"] == done.headers["location"]
        assert deliveries() == 3
    delivered = list((site.tmp / "deliveries").glob("delivery-P1-*"))
    assert len(delivered) == 1 and (delivered[0] / "manifest.json").exists()


def test_the_service_delivers_only_the_order_previewed(site: Site, tmp_path: Path) -> None:
    """What the owner's API calls: the digest of the preview, or nothing delivered."""
    folder = tmp_path / "out"
    folder.mkdir()
    order = 'partner = "P1"\nchannels = ["email"]\npurpose = "Offre"\n'
    order += "campaign_start = 2026-12-01\ncampaign_end = 2099-12-31\n"
    shown = preview_order(site.engine, order, site.web.settings, offer="general")
    assert shown.counts["contacts"] == 2 and shown.order.offer == "general"
    assert shown.order.as_of == today()  # no as_of: decided today, and the digest says so
    assert order_digest(read_order(order + "as_of = 2026-12-01\n", offer="general")) != shown.digest
    # delivered under ``[web] deliveries_dir``
    web = replace(site.web.settings.web, deliveries_dir=str(folder))
    settings = replace(site.web.settings, web=web)
    with pytest.raises(OrderChanged, match="preview it again"):
        deliver_previewed(site.engine, order + "limit = 1\n", shown.digest, settings)
    with pytest.raises(OrderChanged):  # the offer chosen beside the text is part of it
        deliver_previewed(site.engine, order, shown.digest, settings)
    assert not list(folder.iterdir())
    done = deliver_previewed(site.engine, order + "\n\n", shown.digest, settings, offer="general")
    assert done.contacts_delivered == 2 and done.out.parent == folder


def test_the_sample_order_is_a_campaign_to_come(site: Site) -> None:
    with site.client() as c:
        _sign_in(c)
        page = c.get("/admin/rentals").text
    found = re.search(r'<textarea id="order" name="order"[^>]*>([^<]*)</textarea>', page)
    assert found
    sample = parse_order(html.unescape(found.group(1)))
    assert today() < sample.campaign_start < sample.campaign_end
    assert sample_order(today()) == html.unescape(found.group(1))
