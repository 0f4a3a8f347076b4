"""Following the oppositions in the back office: per partner, its messages pending,
sent, acknowledged, failed and overdue; per opposition, each partner's message and why
it waits; an opposition found by the person's email, phone or contact id (normalised
as on import, looked up by index); and a dashboard whose figures agree with its table
and its chart."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

from listguard.oppositions import record_opposition
from listguard.propagation import follow
from listguard.propagation.transports.base import TransportError
from listguard.propagation.transports.routing import Transports
from listguard.propagation.worker import run_once
from listguard.timeutil import now_ts
from tests.scenario import Scenario, contact, partner
from tests.web_server import PASSWORD, Site, form_token


def _sign_in(c: httpx.Client) -> None:
    token = form_token(c.get("/admin/login").text)
    c.post(
        "/admin/login", data={"email": "admin@example.com", "password": PASSWORD, "token": token}
    )


def _message_of(site: Site, event: int) -> int:
    with site.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM outbox WHERE event_id = :e"), {"e": event}
            ).scalar_one()
        )


def messages_in_every_state(site: Site) -> dict[str, int]:
    """Six oppositions, their messages in every state (events by name):

    - P1 (reached by webhook): ``acked`` acknowledged; ``sent`` sent, queued two days
      ago (overdue); ``retrying`` failed once (HTTP 503), due again later;
    - P2 (whatever address it has, none reaching it here: no SMTP server is
      configured): ``parked`` failed for good; ``p2_pending`` pending.
    """
    e = site.engine
    ids = {
        "acked": record_opposition(e, channel="email", email="c1@example.com").event,
        "sent": record_opposition(e, channel="sms", phone="+33612345678").event,
        "retrying": record_opposition(e, channel="email", email="c2@example.com").event,
        "parked": record_opposition(e, channel="postal", contact_id="C2").event,
        "p2_pending": record_opposition(e, channel="postal", contact_id="C1").event,
    }
    failing = _message_of(site, ids["retrying"])

    class PartnerServer:  # P1's server: answers 503 to one message
        name = "webhook"

        def send(self, endpoint: Any, message: Any, now: int) -> None:
            if message.id == failing:
                raise TransportError("HTTP 503")

    with e.begin() as conn:
        conn.execute(
            text(
                "UPDATE partners SET notify_url = 'https://p1.example.com/h' "
                "WHERE partner_id = 'P1'"
            )
        )
    report = run_once(e, Transports(webhook=PartnerServer()))
    assert (report.sent, report.retried) == (2, 1)
    key = _key_of(site, ids["acked"])
    with site.client() as c:
        acked = c.post(
            f"/api/v1/partner/oppositions/{key}/ack", headers={"Authorization": f"Bearer {site.p1}"}
        )
        assert acked.status_code == 200
    with e.begin() as conn:
        conn.execute(  # queued two days ago, never acknowledged: overdue
            text("UPDATE outbox SET created_at = created_at - 172800 WHERE id = :m"),
            {"m": _message_of(site, ids["sent"])},
        )
        conn.execute(  # as the worker parks a message after its last attempt
            text(
                "UPDATE outbox SET status = 'failed', attempts = 12, "
                "last_error = 'cannot connect', "
                "next_attempt_at = NULL WHERE id = :m"
            ),
            {"m": _message_of(site, ids["parked"])},
        )
    return ids


def _key_of(site: Site, event: int) -> str:
    from listguard.reads import partner_messages

    for m in partner_messages(site.engine, "P1"):
        if m.key.startswith(f"lg-{_message_of(site, event)}-"):
            return m.key
    raise AssertionError("no such message")


def test_per_partner_and_per_opposition_each_message_says_why_it_waits(site: Site) -> None:
    with site.client() as c:
        assert c.get("/admin/oppositions/1").headers["location"] == "/admin/login"
        _sign_in(c)
        first = record_opposition(site.engine, channel="email", email="c1@example.com").event
        page = c.get(f"/admin/oppositions/{first}").text
        assert "pas d&#39;adresse de réception" in page or "pas d'adresse de réception" in page
        assert "GET /api/v1/partner/oppositions" in page
        english = c.get(f"/admin/oppositions/{first}?lang=en").text
        assert (
            "This partner has no endpoint" in english
            and "pull its messages through the API" in english
        )
        c.get("/admin/oppositions?lang=fr")
        with site.engine.begin() as conn:
            conn.execute(text("DELETE FROM outbox_items"))
            conn.execute(text("DELETE FROM outbox"))
        with site.engine.begin() as conn:
            conn.execute(
                text("UPDATE partners SET notify_email = 'p2@example.com' WHERE partner_id = 'P2'")
            )
        ids = messages_in_every_state(site)
        lines = {x.partner_id: x for x in follow.partner_lines(site.engine, now_ts(), smtp=False)}
        p1, p2 = lines["P1"], lines["P2"]
        assert (p1.reach, p1.pending, p1.sent, p1.acknowledged, p1.failed, p1.overdue) == (
            "webhook",
            1,
            1,
            1,
            0,
            1,
        )
        assert (p2.reach, p2.pending, p2.sent, p2.acknowledged, p2.failed, p2.overdue) == (
            "email_unsent",
            1,
            0,
            0,
            1,
            0,
        )
        table = c.get("/admin/oppositions").text
        assert 'href="/admin/oppositions/partner?partner=P1&amp;state=overdue">1<' in table
        assert "email, mais aucun serveur SMTP configuré" in table

        def why(event: str) -> str:
            shown = c.get(f"/admin/oppositions/{ids[event]}")
            assert shown.status_code == 200
            found = re.search(r'<td class="why">(.*?)</td>', shown.text, re.S)
            assert found, event
            return found.group(1)

        assert "Accusé de réception le" in why("acked")
        assert "en attente de l&#39;accusé" in why("sent") or "en attente de l'accusé" in why(
            "sent"
        )
        assert "La tentative 1 a échoué (HTTP 503)" in why("retrying")
        assert "Abandonné après 12 tentatives (cannot connect)" in why("parked")
        # C2's address, delivered to P2: the one coordinate the message names
        assert '<td class="coordinates">1</td>' in c.get(f"/admin/oppositions/{ids['parked']}").text
        assert "aucun serveur SMTP n&#39;est configuré" in why("p2_pending")
        # one partner's messages, by state
        overdue = c.get("/admin/oppositions/partner?partner=P1&state=overdue").text
        assert (
            overdue.count('<td class="why">') == 1
            and f'href="/admin/oppositions/{ids["sent"]}"' in overdue
        )
        every = c.get("/admin/oppositions/partner?partner=P1").text
        assert every.count('<td class="why">') == 3
        assert c.get("/admin/oppositions/partner?partner=P9").status_code == 404
        assert c.get("/admin/oppositions/partner?partner=P1&state=lost").status_code == 422
        assert c.get("/admin/oppositions/99999").status_code == 404
        # the dashboard: "to forward" is what is not sent yet, as the table adds up
        board = c.get("/admin").text
        assert re.search(
            r'id="pending"><a href="/admin/oppositions"><span class="n">3</span>', board
        )
        assert p1.to_send + p2.to_send == 3
        assert re.search(r'id="overdue"><span class="n">1</span>', board)


def test_an_opposition_is_found_by_the_persons_email_phone_or_contact_id(site: Site) -> None:
    by_email = record_opposition(site.engine, channel="email", email="c1@example.com").event
    by_phone = record_opposition(site.engine, channel="sms", phone="06 12 34 56 78").event
    by_id = record_opposition(site.engine, channel="postal", contact_id="C1").event
    other = record_opposition(site.engine, channel="postal", contact_id="C2").event

    def search(c: httpx.Client, kind: str, value: str) -> httpx.Response:
        csrf = form_token(c.get("/admin/oppositions").text, "csrf")
        asked = {"kind": kind, "value": value, "csrf": csrf}
        return c.post("/admin/oppositions", data=asked)

    def found(kind: str, value: str) -> set[int]:
        with site.client() as c:
            _sign_in(c)
            page = search(c, kind, value)
        assert page.status_code == 200, page.text
        return {int(n) for n in re.findall(r'<td><a href="/admin/oppositions/(\d+)">', page.text)}

    everyone = {by_email, by_phone, by_id, other}
    assert found("email", "") == everyone  # no search: the latest
    # typed as a person would: normalised as on import, every event naming C1
    assert found("email", "  C1@Example.COM ") == {by_email, by_phone, by_id}
    assert found("phone", "+33 6 12 34 56 78") == {by_email, by_phone, by_id}
    assert found("contact_id", "C1") == {by_email, by_phone, by_id}
    assert found("contact_id", "C2") == {other}
    assert found("email", "nobody@example.com") == set()
    with site.client() as c:
        _sign_in(c)
        bad = search(c, "phone", "not a number")
        assert bad.status_code == 422 and "n&#39;est pas un numéro de téléphone valide" in bad.text
        assert search(c, "name", "Marie").status_code == 422
        # the form names the person in its body, never in the address
        form = c.get("/admin/oppositions").text.split('id="search"', 1)[0].rsplit("<form", 1)[1]
        assert 'method="post"' in form
        expired = {"kind": "email", "value": "c1@example.com", "csrf": "x"}
        assert c.post("/admin/oppositions", data=expired).status_code == 403
        ignored = c.get("/admin/oppositions", params={"kind": "contact_id", "value": "C2"})
        assert len(re.findall(r'<td><a href="/admin/oppositions/\d+">', ignored.text)) == 4


def test_the_search_is_an_index_look_up(site: Site) -> None:
    """Each branch of the search reads the registry by its keys: no table scanned."""
    keys = {"c": "C1", "e": "c1@example.com", "p": "+33612345678"}
    with site.engine.connect() as conn:
        for kind in follow.PERSON_KINDS:
            sql = f"SELECT e.id FROM events e WHERE e.id IN ({follow._of_person(kind)})"
            plan = [str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"), keys)]
            assert any(d.startswith("SEARCH events USING") for d in plan), plan
            assert not [d for d in plan if d.startswith("SCAN")], (kind, plan)


def test_the_dashboards_figures_agree_with_its_chart(site: Site) -> None:
    now = now_ts()
    for days_ago in (0, 0, 3, 29):
        record_opposition(
            site.engine, channel="email", contact_id="C1", at=now - days_ago * 86400 - 1
        )
    record_opposition(site.engine, channel="email", contact_id="C2", at=now - 40 * 86400)
    record_opposition(site.engine, channel="sms", contact_id="C2", at=now + 5 * 86400)
    with site.client() as c:
        _sign_in(c)
        board = c.get("/admin").text
    figure = re.search(r'id="oppositions-30d"><span class="n">(\d+)</span>', board)
    bars = [int(n) for n in re.findall(r"<title>\d{4}-\d\d-\d\d : (\d+)</title>", board)]
    caption = re.search(r"<figcaption>(\d+) ", board)
    assert figure and caption and len(bars) == 30
    assert int(figure.group(1)) == sum(bars) == int(caption.group(1))
    assert 3 <= sum(bars) <= 4  # the one 29 days ago may fall on the day before the chart's


def test_following_reads_the_same_on_sqlite_and_postgresql(
    any_engine: Engine, tmp_path: Path
) -> None:
    """The service behind the pages, on both registries: counts per partner and state,
    a person's events by each kind of key, one event's messages and why they wait."""
    sc = Scenario(
        any_engine,
        tmp_path,
        contacts=[
            contact("C1", email="c1@example.com"),
            contact("C2", email="c2@example.com", mobile=""),
        ],
        partners=[partner("P1")],
    )
    sc.load()
    sc.rent(partner="P1", channels=("email", "sms"), out="d1")
    by_email = record_opposition(any_engine, channel="email", email="C1@example.com").event
    by_phone = record_opposition(any_engine, channel="sms", phone="06 12 34 56 78").event
    other = record_opposition(any_engine, channel="email", contact_id="C2").event
    now = now_ts()
    (line,) = follow.partner_lines(any_engine, now, smtp=True)
    assert (line.partner_id, line.reach, line.pending, line.to_send, line.overdue) == (
        "P1",
        "api",
        3,
        3,
        0,
    )
    assert follow.partner_lines(any_engine, now + 2 * 86400, smtp=True)[0].overdue == 3

    def found(kind: follow.PersonKind, value: str) -> set[int]:
        return {e.id for e in follow.events(any_engine, now, person=(kind, value))}

    assert found("email", "c1@EXAMPLE.com") == {by_email, by_phone}
    assert found("phone", "+33612345678") == {by_email, by_phone}
    assert found("contact_id", "C2") == {other}
    (shown,) = follow.messages(any_engine, now, smtp=True, event_id=by_phone)
    assert (shown.partner_id, shown.status, shown.why, shown.coordinates) == (
        "P1",
        "pending",
        "no_endpoint",
        1,
    )
    assert [m.event_id for m in follow.messages(any_engine, now, smtp=True, partner_id="P1")] == [
        other,
        by_phone,
        by_email,
    ]
