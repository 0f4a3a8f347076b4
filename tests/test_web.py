"""The web application through a real server on loopback: public pages, opposition
routes, the partner API and its isolation, the back office and its protections."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from listguard.accounts import add_account, authenticate, revoke_api_key
from listguard.links import Unsubscribe, make_token
from listguard.oppositions import record_opposition
from listguard.timeutil import now_ts, to_day
from listguard.web.app import create_app
from tests.scenario import Scenario, contact
from tests.web_server import PASSWORD, Site, form_token, serving, web_settings


def _events(engine: Engine) -> list[tuple[str, str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT event, channel, scope, via FROM events ORDER BY id")).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def test_public_partner_list_in_both_languages_and_as_versioned_json(site: Site) -> None:
    with site.client() as c:
        fr = c.get("/partenaires")
        assert fr.status_code == 200 and 'lang="fr"' in fr.text
        assert "Partenaire P1" in fr.text and "https://p1.example.com/vie-privee" in fr.text
        assert "Version 2 du 2026-03-01" in fr.text  # P2 joining made version 2
        en = c.get("/partenaires?lang=en")
        assert 'lang="en"' in en.text and "List of our partners" in en.text
        assert c.get("/").text.count('lang="en"') >= 1  # the choice is remembered
        current = c.get("/partners.json").json()
        assert (current["version"], current["current"]) == (2, True)
        assert [p["id"] for p in current["partners"]] == ["P1", "P2"]
        assert [v["url"] for v in current["versions"]] == [
            "/partners/v1.json",
            "/partners/v2.json",
        ]
        first = c.get("/partners/v1.json")
        assert "immutable" in first.headers["cache-control"]
        assert [p["id"] for p in first.json()["partners"]] == ["P1"]
        assert c.get("/partners/v3.json").status_code == 404
        archived = c.get("/partenaires?version=1&lang=fr")
        assert "Version archivée 1" in archived.text and "Partenaire P2" not in archived.text
        assert fr.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in fr.headers["content-security-policy"]


def test_a_person_objects_through_the_form(site: Site) -> None:
    with site.client() as c:
        form = c.get("/opposition").text
        assert '<label for="email">' in form
        done = c.post(
            "/opposition",
            data={
                "token": form_token(form),
                "email": " C1@Example.com ",
                "channel": "email",
                "scope": "all",
            },
        )
        assert done.status_code == 200 and "Votre opposition est enregistrée" in done.text
        assert _events(site.engine)[-1] == ("opposition", "email", "all", "web_form")
        with site.engine.connect() as conn:
            queued = conn.execute(text("SELECT partner_id FROM outbox")).scalars().all()
        assert queued == ["P1"]  # the only partner that received C1's email
        # mistakes are said next to the form, which keeps what was typed
        bad = c.post(
            "/opposition",
            data={"token": form_token(form), "email": "not-an-email", "channel": "all"},
        )
        assert bad.status_code == 422 and "pas valide" in bad.text
        assert 'value="not-an-email"' in bad.text
        assert c.post("/opposition", data={"email": "c2@example.com"}).status_code == 400
    assert len(_events(site.engine)) == 1


def test_public_forms_are_rate_limited(engine: Engine, tmp_path: Path) -> None:
    Scenario(engine, tmp_path).load()
    app = create_app(engine, web_settings(tmp_path, rate=2))
    with serving(app) as url, httpx.Client(base_url=url) as c:
        token = form_token(c.get("/opposition").text)
        codes = [
            c.post("/opposition", data={"token": token, "email": "c1@example.com"}).status_code
            for _ in range(3)
        ]
    assert codes == [200, 200, 429]


def test_one_click_unsubscribe_links(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    with site.engine.begin() as conn:
        token = make_token(conn, Unsubscribe("email", "all", contact_id="C1"))
    with site.client() as c:
        page = c.get(f"/desinscription/{token}")
        assert page.status_code == 200 and "Me désinscrire" in page.text
        assert _events(site.engine) == []  # following the link records nothing
        # RFC 8058: the mail client POSTs List-Unsubscribe=One-Click
        one = c.post(f"/desinscription/{token}", data={"List-Unsubscribe": "One-Click"})
        assert one.status_code == 200 and one.text == "unsubscribed\n"
        assert _events(site.engine) == [("opposition", "email", "all", "email_link")]
        # the link says nothing of the person; altered or expired, it records nothing
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert b"C1" not in raw and b"email" not in raw  # encrypted, not merely encoded
        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert c.get(f"/desinscription/{forged}").status_code == 404
        assert c.post(f"/desinscription/{forged}").status_code == 404
        assert c.get("/desinscription/not-a-token").status_code == 404
        with site.engine.begin() as conn:
            old = make_token(conn, Unsubscribe("email", "all", email="c2@example.com"), days=1)
        later = now_ts() + 2 * 86400  # two days later, in the server (a thread of this process)
        monkeypatch.setattr("listguard.web.public.now_ts", lambda: later)
        assert c.post(f"/desinscription/{old}").status_code == 410
        assert "expiré" in c.get(f"/desinscription/{old}").text
    assert len(_events(site.engine)) == 1


def test_api_keys_scopes_and_revocation(site: Site) -> None:
    body = {"email": "c2@example.com", "channel": "all", "scope": "all"}
    with site.client() as c:
        assert c.post("/api/v1/oppositions", json=body).status_code == 401
        wrong = {"Authorization": "Bearer lg_000000000000_nope"}
        assert c.post("/api/v1/oppositions", json=body, headers=wrong).status_code == 401
        as_partner = {"Authorization": f"Bearer {site.p1}"}
        assert c.post("/api/v1/oppositions", json=body, headers=as_partner).status_code == 403
        machine = {"Authorization": f"Bearer {site.machine}"}
        made = c.post("/api/v1/oppositions", json=body, headers=machine)
        # C2 went to P1 (email) and P2 (postal): one message each
        assert made.status_code == 201 and made.json() == {"covered": 1, "messages": 2}
        both = {**body, "phone": "0612345678"}
        assert c.post("/api/v1/oppositions", json=both, headers=machine).status_code == 400
        # an SMS provider's webhook: STOP from a number
        sms = {"from": "06 12 34 56 78", "received_at": "2026-11-27T18:05:00+01:00"}
        for text_ in ("merci", "Stopper la pub ?", "Arrêtez-vous ici"):
            chat = c.post("/api/v1/sms/stop", json={**sms, "text": text_}, headers=machine)
            assert chat.json() == {"stopped": False, "messages": 0}, text_
        assert c.post("/api/v1/sms/stop", json={"text": "STOP"}, headers=machine).is_error
        stop = c.post("/api/v1/sms/stop", json={**sms, "text": " Désabonnement"}, headers=machine)
        assert stop.json() == {"stopped": True, "messages": 1}  # P1 got C1's mobile by sms
        assert _events(site.engine)[-1] == ("opposition", "sms", "all", "sms_stop")
        with site.engine.connect() as conn:
            at = conn.execute(text("SELECT at FROM events WHERE via = 'sms_stop'")).scalar_one()
        assert at == 1795799100  # when it was received, not when it was posted
        revoke_api_key(site.engine, site.machine.split("_")[1])
        assert c.post("/api/v1/oppositions", json=body, headers=machine).status_code == 401


def test_a_partner_sees_only_its_own_deliveries_and_messages(site: Site) -> None:
    record_opposition(site.engine, channel="all", contact_id="C1")  # P1 (email, sms), P2 (postal)
    p1 = {"Authorization": f"Bearer {site.p1}"}
    p2 = {"Authorization": f"Bearer {site.p2}"}
    with site.client() as c:
        mine = c.get("/api/v1/partner/deliveries", headers=p1).json()
        assert [(d["delivery_id"], d["kind"]) for d in mine] == [(1, "rental")]
        assert mine[0]["files"] == ["contacts.csv", "notice.txt"]
        # a rental has no enriched client file
        assert c.get("/api/v1/partner/deliveries/1/enriched.csv", headers=p1).status_code == 404
        got = c.get("/api/v1/partner/deliveries/1/contacts.csv", headers=p1)
        assert got.status_code == 200 and got.text.startswith("\ufeffcontact_ref")
        assert c.get("/api/v1/partner/deliveries/1/notice.txt", headers=p1).status_code == 200
        # the owner's own files are not the partner's; another partner's are not found
        assert c.get("/api/v1/partner/deliveries/1/decisions.csv", headers=p1).status_code == 422
        parquet = "/api/v1/partner/deliveries/1/decisions.parquet"
        assert c.get(parquet, headers=p1).status_code == 422
        assert c.get("/api/v1/partner/deliveries/1/contacts.csv", headers=p2).status_code == 404
        assert c.get("/api/v1/partner/deliveries/1/contacts.csv").status_code == 401
        for1 = c.get("/api/v1/partner/oppositions", headers=p1).json()
        for2 = c.get("/api/v1/partner/oppositions", headers=p2).json()
        assert len(for1) == len(for2) == 1
        assert {x["channel"] for x in for1[0]["content"]["contacts"]} == {"email", "sms"}
        assert {x["channel"] for x in for2[0]["content"]["contacts"]} == {"postal"}
        key1 = for1[0]["message_id"]
        # P2 cannot acknowledge P1's message; P1 can, once and again (idempotent)
        assert c.post(f"/api/v1/partner/oppositions/{key1}/ack", headers=p2).status_code == 404
        for _ in range(2):
            ack = c.post(f"/api/v1/partner/oppositions/{key1}/ack", headers=p1)
            assert ack.json() == {"acknowledged": True}
        assert c.get("/api/v1/partner/oppositions", headers=p1).json() == []
        assert len(c.get("/api/v1/partner/oppositions?pending=false", headers=p1).json()) == 1
        assert len(c.get("/api/v1/partner/oppositions", headers=p2).json()) == 1


def test_a_partner_reports_an_opposition_it_received(site: Site) -> None:
    p1 = {"Authorization": f"Bearer {site.p1}"}
    p2 = {"Authorization": f"Bearer {site.p2}"}
    with site.client() as c:
        refs = c.get("/api/v1/partner/deliveries/1/contacts.csv", headers=p1).text.splitlines()
        # C1's row (references are a random permutation: the first row may be anyone)
        ref = next(r for r in refs[1:] if ";c1@example.com;" in r).split(";")[0]
        # another partner cannot name P1's contacts by their references
        one = {"contact_ref": ref, "channel": "all"}
        assert c.post("/api/v1/partner/oppositions", json=one, headers=p2).status_code == 404
        bogus = {"contact_ref": "D1-999999", "channel": "all"}
        assert c.post("/api/v1/partner/oppositions", json=bogus, headers=p1).status_code == 404
        made = c.post("/api/v1/partner/oppositions", json=one, headers=p1)
        # towards P1 only: its email and mobile of the contact, one message to apply
        assert made.status_code == 201
        assert made.json() == {"recorded": True, "covered": 2, "messages": 1}
        everyone = {"email": "c2@example.com", "scope": "all"}
        # P1 is told of its own delivery only (C2's email), not of P2's
        assert c.post("/api/v1/partner/oppositions", json=everyone, headers=p1).json() == {
            "recorded": True,
            "covered": 1,
            "messages": 1,
        }
    assert _events(site.engine)[-2:] == [
        ("opposition", "all", "partner:P1", "partner:P1"),
        ("opposition", "all", "all", "partner:P1"),
    ]


def test_a_partner_reporting_oppositions_learns_nothing_of_the_owners_base(site: Site) -> None:
    """The answer is the same for a person another partner holds, a person the owner
    holds but never delivered, and a person nobody holds; the opposition is recorded
    and forwarded all the same."""
    from listguard.imports import import_file
    from tests.scenario import write_csv

    held = write_csv(site.tmp / "c3.csv", [contact("C3", email="c3@example.com")])
    assert import_file(site.engine, "contacts", held).rows_new == 1  # never delivered
    p2 = {"Authorization": f"Bearer {site.p2}"}
    answers = []
    with site.client() as c:
        for email in ("c1@example.com", "c3@example.com", "nobody@example.com"):
            # P1 holds C1's email; P2 got postal addresses only
            asked = {"email": email, "channel": "email", "scope": "all"}
            made = c.post("/api/v1/partner/oppositions", json=asked, headers=p2)
            assert made.status_code == 201
            answers.append(made.json())
    assert answers == [{"recorded": True, "covered": 0, "messages": 0}] * 3
    with site.engine.connect() as conn:
        forwarded = conn.execute(
            text(
                "SELECT o.partner_id, e.email_norm FROM outbox o JOIN events e ON e.id = o.event_id"
            )
        ).all()
    assert [tuple(r) for r in forwarded] == [("P1", "c1@example.com")]
    assert [e[1:] for e in _events(site.engine)[-3:]] == [("email", "all", "partner:P2")] * 3


def _sign_in(
    c: httpx.Client, password: str = PASSWORD, email: str = "Admin@Example.com"
) -> httpx.Response:
    token = form_token(c.get("/admin/login").text)
    return c.post("/admin/login", data={"email": email, "password": password, "token": token})


def test_back_office_sign_in_dashboard_and_csrf(site: Site) -> None:
    record_opposition(site.engine, channel="email", contact_id="C1")
    with site.client() as c:
        assert c.get("/admin").headers["location"] == "/admin/login"
        assert _sign_in(c, "wrong password!").status_code == 401
        signed = _sign_in(c)
        assert signed.status_code == 303 and signed.headers["location"] == "/admin"
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        board = c.get("/admin")
        assert board.status_code == 200
        assert re.search(
            r'id="pending"><a href="/admin/oppositions"><span class="n">1</span>', board.text
        )
        assert "P1" in c.get("/admin/oppositions").text
        # the back office in English too, remembered like the public pages
        english = c.get("/admin?lang=en").text
        assert "<h1>Dashboard</h1>" in english and ">Rentals</a>" in english
        assert "<h1>Partners</h1>" in c.get("/admin/partners").text
        assert "Tableau de bord" in c.get("/admin?lang=fr").text
        audit = c.get("/admin/audit")
        assert "Chaîne intacte" in audit.text and "<td>connexion</td>" in audit.text
        # a form without the session's token is refused, with it accepted
        assert c.post("/admin/logout", data={"csrf": "forged"}).status_code == 403
        csrf = form_token(board.text, "csrf")
        assert c.post("/admin/logout", data={"csrf": csrf}).status_code == 303
        assert c.get("/admin").status_code == 303


def test_an_operator_cannot_read_the_audit_log(site: Site) -> None:
    add_account(site.engine, "operator@example.com", PASSWORD, "operator")
    with site.client() as c:
        _sign_in(c, email="operator@example.com")
        assert c.get("/admin").status_code == 200
        assert c.get("/admin/audit").status_code == 403


def test_an_admin_manages_accounts_and_keys_from_the_back_office(site: Site) -> None:
    body = {"email": "c2@example.com", "channel": "email"}
    with site.client() as c:
        _sign_in(c)
        page = c.get("/admin/access")
        assert page.status_code == 200 and "admin@example.com" in page.text
        assert page.headers["cache-control"] == "no-store"
        csrf = form_token(page.text, "csrf")
        # an account: a password too short is refused, none makes one shown once
        short = {"csrf": csrf, "email": "op@example.com", "role": "operator", "password": "short"}
        assert c.post("/admin/access/accounts", data=short).status_code == 422
        made = c.post("/admin/access/accounts", data={**short, "password": ""})
        password = re.search(r'<code id="secret">([^<]+)</code>', made.text).group(1)  # type: ignore[union-attr]
        assert authenticate(site.engine, "op@example.com", password) is not None
        assert password not in c.get("/admin/access").text  # shown once
        # a machine key works on the API until it is revoked
        asked = {"csrf": csrf, "label": "CRM", "scope": ["oppositions:write", "oppositions:ack"]}
        refused = c.post("/admin/access/keys", data=asked)  # a partner's scope, for a machine
        assert refused.status_code == 422 and "oppositions:ack" in refused.text
        made = c.post("/admin/access/keys", data={**asked, "scope": ["oppositions:write"]})
        key = re.search(r'<code id="secret">(lg_[^<]+)</code>', made.text).group(1)  # type: ignore[union-attr]
        auth = {"Authorization": f"Bearer {key}"}
        assert c.post("/api/v1/oppositions", json=body, headers=auth).status_code == 201
        prefix = key.split("_")[1]
        listed = c.get("/admin/access").text
        assert f"lg_{prefix}_" in listed and key not in listed
        row = listed.split(prefix)[1].split("</tr>")[0]
        assert "oppositions:write" in row and "collections:write" not in row
        assert (
            c.post("/admin/access/keys/revoke", data={"csrf": csrf, "prefix": prefix}).status_code
            == 303
        )
        assert c.post("/api/v1/oppositions", json=body, headers=auth).status_code == 401
        # a scope of a machine key is refused for a partner key, not widened to all
        mixed = {"csrf": csrf, "partner_id": "P2", "scope": ["oppositions:write"]}
        refused = c.post("/admin/access/keys", data=mixed)
        assert (
            refused.status_code == 422
            and "inexistant(s) pour une clé de partenaire" in refused.text
        )
        in_english = c.post("/admin/access/keys?lang=en", data=mixed)  # the page's language
        assert "do not exist for a partner key" in in_english.text
        # a partner key is bound to its partner
        made = c.post("/admin/access/keys", data={"csrf": csrf, "partner_id": "P2"})
        p2 = re.search(r'<code id="secret">(lg_[^<]+)</code>', made.text).group(1)  # type: ignore[union-attr]
        mine = c.get("/api/v1/partner/deliveries", headers={"Authorization": f"Bearer {p2}"})
        assert [d["delivery_id"] for d in mine.json()] == [2]  # P2's rental, not P1's
        # disabling an account ends its sessions; one's own account cannot be disabled
        me = {"csrf": csrf, "email": "admin@example.com"}
        assert c.post("/admin/access/accounts/disable", data=me).status_code == 422
        op = {"csrf": csrf, "email": "op@example.com"}
        assert c.post("/admin/access/accounts/disable", data=op).status_code == 303
        assert authenticate(site.engine, "op@example.com", password) is None
        assert c.post("/admin/access/accounts/disable", data=op).status_code == 404
        assert c.post("/admin/access/keys", data={"csrf": "forged"}).status_code == 403
    with site.engine.connect() as conn:
        actions = conn.execute(text("SELECT action FROM audit_log")).scalars().all()
    assert {"account_added", "api_key_created", "api_key_revoked", "account_disabled"} <= set(
        actions
    )


def test_an_operator_cannot_manage_access(site: Site) -> None:
    add_account(site.engine, "operator@example.com", PASSWORD, "operator")
    with site.client() as c:
        _sign_in(c, email="operator@example.com")
        csrf = form_token(c.get("/admin").text, "csrf")
        assert c.get("/admin/access").status_code == 403
        assert c.post("/admin/access/keys", data={"csrf": csrf}).status_code == 403
        made = {"csrf": csrf, "email": "x@example.com", "password": ""}
        assert c.post("/admin/access/accounts", data=made).status_code == 403
    with site.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM api_keys")).scalar_one() == 3


def test_the_rental_form_carries_the_offer(site: Site) -> None:
    order = (
        'partner = "P1"\nchannels = ["email"]\npurpose = "Isolation"\n'
        "campaign_start = 2026-12-01\ncampaign_end = 2026-12-31\nas_of = 2026-11-28\n"
    )
    with site.client() as c:
        _sign_in(c)
        page = c.get("/admin/rentals")
        assert '<option value="energy_renovation">' in page.text
        csrf = form_token(page.text, "csrf")
        form = {"csrf": csrf, "order": order, "offer": "energy_renovation"}
        shown = c.post("/admin/rentals", data=form)
        assert shown.status_code == 200
        assert 'id="preview-offer">Offre : rénovation énergétique</p>' in shown.text
        # the reason in words, linked to its meaning and legal source
        assert '<a href="/admin/reasons#banned_offer">Offre interdite de démarchage</a>' in (
            shown.text
        )
        assert '<option value="energy_renovation" selected>' in shown.text
        for offer, told in (("solar", "offre inconnue"), ("home_adaptation", "mais")):
            form = {"csrf": csrf, "order": 'offer = "general"\n' + order, "offer": offer}
            bad = c.post("/admin/rentals", data=form)
            assert bad.status_code == 422 and told in bad.text
    with site.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM deliveries")).scalar_one() == 2


def test_an_admin_manages_partners_and_the_published_list_follows(site: Site) -> None:
    with site.client() as c:
        _sign_in(c)
        page = c.get("/admin/partners")
        assert page.status_code == 200 and "P1" in page.text
        csrf = form_token(page.text, "csrf")
        version = int(re.search(r'id="list-version">(\d+)<', page.text).group(1))  # type: ignore[union-attr]
        new = {
            "csrf": csrf,
            "partner_id": "P9",
            "name": "Caves Nouvelles",
            "category": "vins",
            "sector": "commercial",
            "privacy_policy_url": "https://caves.example.com/confidentialite",
            "listed_from": "2026-11-01",
        }
        # a bad value gets the import's message, and nothing is recorded
        bad = c.post("/admin/partners", data={**new, "listed_from": "2026-13-01"})
        assert bad.status_code == 422 and "pas une vraie date" in bad.text
        assert c.post("/admin/partners", data={**new, "csrf": "forged"}).status_code == 403
        assert c.post("/admin/partners", data=new).status_code == 303
        listed = c.get("/partners.json").json()
        assert "P9" in {p["id"] for p in listed["partners"]}
        assert listed["version"] == version + 1
        # delisting: a new version of the partner, gone from the current list
        assert (
            c.post("/admin/partners", data={**new, "listed_until": "2026-11-20"}).status_code == 303
        )
        assert "P9" not in {p["id"] for p in c.get("/partners.json").json()["partners"]}
        assert "retiré" in c.get("/admin/partners").text
    with site.engine.connect() as conn:
        versions = conn.execute(
            text("SELECT count(*) FROM partner_history WHERE partner_id = 'P9'")
        ).scalar_one()
        audited = (
            conn.execute(text("SELECT action FROM audit_log WHERE subject = 'P9' ORDER BY id"))
            .scalars()
            .all()
        )
    assert versions == 2 and audited == ["partner_new", "partner_changed"]
    # an operator sees the partners but cannot change them
    add_account(site.engine, "op@example.com", PASSWORD, "operator")
    with site.client() as c:
        token = form_token(c.get("/admin/login").text)
        c.post(
            "/admin/login", data={"email": "op@example.com", "password": PASSWORD, "token": token}
        )
        page = c.get("/admin/partners")
        assert page.status_code == 200 and "Nouveau partenaire" not in page.text
        csrf = form_token(page.text, "csrf")
        assert c.post("/admin/partners", data={**new, "csrf": csrf}).status_code == 403


def test_the_back_office_shows_deliveries_their_ledger_and_files(site: Site) -> None:
    record_opposition(site.engine, channel="email", contact_id="C1")
    with site.client() as c:
        assert c.get("/admin/deliveries").headers["location"] == "/admin/login"
        assert c.get("/admin/deliveries/1/decisions.csv").headers["location"] == "/admin/login"
        _sign_in(c)
        listing = c.get("/admin/deliveries")
        assert (
            listing.status_code == 200
            and 'href="/admin/deliveries/1/decisions.csv"' in listing.text
        )
        one = c.get("/admin/deliveries/1")
        assert one.status_code == 200 and 'id="ledger"' in one.text and "partner = " in one.text
        decisions = c.get("/admin/deliveries/1/decisions.csv")
        assert decisions.status_code == 200 and "contact_id" in decisions.text
        assert c.get("/admin/deliveries/1/secret.txt").status_code == 404
        assert c.get("/admin/deliveries/99").status_code == 404
        board = c.get("/admin")
        # the chart of oppositions per day: 30 bars, today's counting the one above
        assert board.text.count("<rect ") == 30
        assert re.search(r"<title>\d{4}-\d\d-\d\d : 1</title>", board.text)
        # what is rentable today for a partner: the rentals preview of every channel
        rentable = c.get("/admin?rentable=P1")
        shown = re.search(r'id="rentable-total">.*?<strong>(\d+)</strong>', rentable.text)
        assert shown is not None
        assert int(shown.group(1)) == 2  # C1 by sms, C2 by email: opposition of C1 to email
        assert '<a href="/admin/reasons#opposed">Opposition reçue</a> : 1' in rentable.text
        assert "partenaire inconnu" in c.get("/admin?rentable=P404").text
        rights = c.get("/admin/oppositions")
        assert "Demandes d&#39;accès" in rights.text or "Demandes d'accès" in rights.text


def test_a_person_objects_by_name_and_postal_address(site: Site) -> None:
    from tests.scenario import contact, reasons_by_channel

    with site.client() as c:
        form = c.get("/opposition").text
        assert '<label for="postal_code">' in form
        post = {"token": form_token(form), "channel": "postal", "scope": "all"}
        # C1 lives at 12 rue de la Paix; C2, same name, elsewhere: only C1 is covered
        done = c.post(
            "/opposition",
            data={
                **post,
                "last_name": "EXEMPLE",
                "first_name": "marie",
                "street": "12, Rue de la Paix",
                "postal_code": "75002",
                "city": "PARIS",
            },
        )
        assert done.status_code == 200
        with site.engine.connect() as conn:
            covered = conn.execute(
                text("SELECT contact_id, channel, via FROM events WHERE event = 'opposition'")
            ).all()
            queued = conn.execute(text("SELECT partner_id FROM outbox")).scalars().all()
        assert [tuple(r) for r in covered] == [("C1", "postal", "web_form")]
        assert queued == ["P2"]  # the partner that received C1's address
        # an incomplete address is said, and records nothing
        bad = c.post(
            "/opposition",
            data={
                **post,
                "token": form_token(form),
                "last_name": "Exemple",
                "street": "12 rue de la Paix",
            },
        )
        assert bad.status_code == 422 and "adresse n&#39;est pas reconnue" in bad.text.replace(
            "'", "&#39;"
        )
        # nobody of that name there: the address is kept from postal rentals
        c.post(
            "/opposition",
            data={
                **post,
                "token": form_token(form),
                "last_name": "Durand",
                "street": "5 rue de Rivoli",
                "postal_code": "75001",
                "city": "Paris",
            },
        )
    with site.engine.connect() as conn:
        assert len(_events(site.engine)) == 1
        kept = conn.execute(text("SELECT list, kind FROM suppressions")).all()
    assert [tuple(k) for k in kept] == [("opposition", "address")]
    later = Scenario(
        site.engine,
        site.tmp,
        contacts=[
            contact(
                "C9",
                last_name="Durand",
                address_line4="5 rue de Rivoli",
                postal_code="75001",
                email="c9@example.com",
            )
        ],
    )
    later.load()
    # decided as of today: the address was kept from rentals today, by the real clock (a
    # Paris day, as every day of the registry)
    today = to_day(now_ts()).isoformat()
    _report, rows = later.rent(channels=("postal",), partner="P2", out="after", as_of=today)
    assert reasons_by_channel(rows, "C9")["postal"] == "suppressed"


def test_api_keys_are_checked_again_after_a_second(engine: Engine) -> None:
    """Keys recently checked are held briefly: a key revoked elsewhere (the CLI) stops
    working within the cache's time, one revoked by this process at once."""
    import time

    from listguard.accounts import GrantCache, create_api_key

    key, _grant = create_api_key(engine, role="machine")
    cache = GrantCache(ttl=0.3)
    assert cache.check(engine, key) is not None
    with engine.begin() as conn:  # revoked by another process: this one is not told
        conn.execute(text("UPDATE api_keys SET revoked_at = 1"))
    assert cache.check(engine, key) is not None
    time.sleep(0.35)
    assert cache.check(engine, key) is None
    assert cache.check(engine, "lg_nope_nope") is None
