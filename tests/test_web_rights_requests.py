"""Rights requests through a real server on loopback: the public form (a real SMTP
server, a fake SMS adapter), the back office's answer, the person's download, the
owner's API."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from listguard.accounts import add_account, create_api_key
from listguard.rights_requests import due_on
from listguard.web.app import create_app
from tests.test_web_proof import FakeSms, _body, _load, _mails, _settings, served, smtp_server
from tests.web_server import PASSWORD, form_token


@pytest.fixture
def smtp() -> Iterator[tuple[int, list[Any]]]:
    with smtp_server() as served:
        yield served


def _ask(c: httpx.Client, **fields: str) -> httpx.Response:
    token = form_token(c.get("/droits").text)
    return c.post("/droits/demande", data={"token": token, **fields})


def _sign_in(c: httpx.Client) -> None:
    token = form_token(c.get("/admin/login").text)
    c.post(
        "/admin/login", data={"email": "admin@example.com", "password": PASSWORD, "token": token}
    )


def _requests(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(text("SELECT id, kind, status, via FROM rights_requests"))
        ]


def test_a_person_obtains_the_answer_to_an_access_request_without_an_account(
    engine: Engine, tmp_path: Path, smtp: tuple[int, list[Any]]
) -> None:
    _load(engine, tmp_path)
    add_account(engine, "admin@example.com", PASSWORD, "admin")
    port, received = smtp
    app = create_app(engine, _settings(tmp_path, port))
    with served(app) as url, httpx.Client(base_url=url) as c:
        page = c.get("/droits").text
        assert 'id="request-form"' in page and "Accéder à mes données" in page
        held = _ask(c, kind="access", email=" C1@Example.com ")
        unknown = _ask(c, kind="access", email="nobody@example.com")
        # the same answer whether the address is held or not
        assert held.status_code == unknown.status_code == 200
        assert held.text == unknown.text and "Si cette adresse figure" in held.text
        mails = _mails(received, 1)
        time.sleep(0.3)  # the unknown address's request is done: still one mail
        assert len(received) == 1 and mails[0]["To"] == "c1@example.com"
        link = re.search(r"(http://\S+/droits/demande\?t=\S+)", _body(mails[0]))
        assert link, _body(mails[0])
        assert _requests(engine) == []  # nothing recorded before the person confirms
        shown = c.get(link.group(1))  # a mail scanner following the link records nothing
        assert shown.status_code == 200 and "Confirmer ma demande" in shown.text
        assert _requests(engine) == []
        t = form_token(shown.text, "t")
        for bad in (t[:-1] + ("A" if t[-1] != "A" else "B"), "x", ""):
            assert c.get("/droits/demande", params={"t": bad}).status_code == 404
            refused = c.post(
                "/droits/demande/confirmer", data={"token": form_token(shown.text), "t": bad}
            )
            assert refused.status_code == 404
        done = c.post("/droits/demande/confirmer", data={"token": form_token(shown.text), "t": t})
        assert done.status_code == 200 and "Votre demande n° 1 est enregistrée" in done.text
        again = c.post("/droits/demande/confirmer", data={"token": form_token(shown.text), "t": t})
        assert "n° 1 " in again.text and _requests(engine) == [
            (1, "access", "received", "web_form")
        ]

        # the back office: the list, the request, the answer sent
        assert c.get("/admin/rights").status_code == 303  # signed in only
        _sign_in(c)
        listed = c.get("/admin/rights")
        assert listed.status_code == 200 and 'href="/admin/rights/1"' in listed.text
        one = c.get("/admin/rights/1")
        assert "c1@example.com" in one.text and one.headers["cache-control"] == "no-store"
        assert c.post("/admin/rights/1/answer", data={"csrf": "x"}).status_code == 403
        answered = c.post("/admin/rights/1/answer", data={"csrf": form_token(one.text, "csrf")})
        assert answered.status_code == 200 and 'id="sent"' in answered.text
        mails = _mails(received, 2)
        assert mails[1]["To"] == "c1@example.com"
        download = re.search(r"(http://\S+/droits/reponse\?t=\S+)", _body(mails[1]))
        assert download, _body(mails[1])
        got = c.get(download.group(1))
        assert got.status_code == 200 and got.headers["content-type"].startswith("text/plain")
        assert got.headers["content-disposition"].startswith("attachment")
        assert got.headers["cache-control"] == "no-store"
        assert got.headers["referrer-policy"] == "no-referrer"
        assert "Fiche C1" in got.text and "c1@example.com" in got.text
        token = download.group(1).split("t=", 1)[1]
        assert c.get("/droits/reponse", params={"t": token[:-3]}).status_code == 404
        # the answer's link may be sent again; a closed request is not answered twice
        page = c.get("/admin/rights/1").text
        csrf = form_token(page, "csrf")
        assert c.post("/admin/rights/1/send", data={"csrf": csrf}).status_code == 200
        assert len(_mails(received, 3)) == 3
        assert c.post("/admin/rights/1/answer", data={"csrf": csrf}).status_code == 422
    assert _requests(engine) == [(1, "access", "answered", "web_form")]
    with engine.connect() as conn:
        actions = conn.execute(
            text("SELECT action FROM audit_log WHERE action LIKE 'rights_request%' ORDER BY id")
        ).scalars()
        assert list(actions) == [
            "rights_request_received",
            "rights_request_in_progress",
            "rights_request_answered",
        ]


def test_the_form_says_what_is_missing_and_keeps_what_was_typed(
    engine: Engine, tmp_path: Path, smtp: tuple[int, list[Any]]
) -> None:
    _load(engine, tmp_path)
    port, received = smtp
    app = create_app(engine, _settings(tmp_path, port))
    with served(app) as url, httpx.Client(base_url=url) as c:
        missing = _ask(c, kind="rectification", email="c1@example.com", field="city")
        assert missing.status_code == 422 and "la valeur exacte" in missing.text
        assert 'value="c1@example.com"' in missing.text
        # the message stands next to its field too, which says it is the one wrong
        assert '<p class="field-error" id="r-value-error">' in missing.text
        assert 'aria-invalid="true" aria-describedby="r-value-error"' in missing.text
        assert _ask(c, kind="access").status_code == 422  # neither email nor number
        bad = _ask(c, kind="access", email="not-an-email")
        assert bad.status_code == 422 and 'id="r-email-error"' in bad.text
        assert 'aria-describedby="r-email-hint r-email-error" aria-invalid="true"' in bad.text
        token = form_token(c.get("/droits").text)
        proof = c.post("/droits/preuve", data={"token": token, "email": "not-an-email"})
        assert proof.status_code == 422 and 'id="email-error"' in proof.text
        assert 'aria-describedby="email-hint email-error" aria-invalid="true"' in proof.text
        assert _ask(c, kind="access", phone="0612345678").status_code == 422  # no SMS adapter
        forged = c.post("/droits/demande", data={"kind": "access", "email": "c1@example.com"})
        assert forged.status_code == 400
        asked = _ask(c, kind="rectification", email="c1@example.com", field="city", value="Lyon")
        assert asked.status_code == 200
        link = re.search(r"(http://\S+/droits/demande\?t=\S+)", _body(_mails(received, 1)[0]))
        assert link
        shown = c.get(link.group(1)).text
        assert "Lyon" in shown and "Commune" in shown
        # the page's other language is the same link's page
        other = re.search(r'href="(\?t=[^"]+&amp;lang=en)"', shown)
        assert other, shown
        translated = c.get("/droits/demande" + other.group(1).replace("&amp;", "&"))
        assert translated.status_code == 200 and "Confirm my request" in translated.text
        english = c.get("/droits", params={"lang": "en"}).text
        assert "Exercise a right over your data" in english


def test_a_request_confirmed_by_sms_code_is_answered_by_sms(engine: Engine, tmp_path: Path) -> None:
    _load(engine, tmp_path)
    add_account(engine, "admin@example.com", PASSWORD, "admin")
    sms = FakeSms()
    app = create_app(engine, _settings(tmp_path, None), sms=sms)
    with served(app) as url, httpx.Client(base_url=url) as c:
        asked = _ask(c, kind="objection", channel="sms", phone="06 12 34 56 78")
        unknown = _ask(c, kind="objection", channel="sms", phone="06 99 99 99 99")
        assert asked.status_code == unknown.status_code == 200
        assert "Si ce numéro figure" in asked.text
        deadline = time.monotonic() + 10
        while not sms.sent and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert [n for n, _ in sms.sent] == ["+33612345678"]
        code = re.findall(r"\b\d{6}\b", sms.sent[0][1])[0]
        fields = {
            "token": form_token(asked.text),
            "kind": "objection",
            "channel": "sms",
            "phone": "+33612345678",
        }
        wrong = "000000" if code != "000000" else "111111"
        assert c.post("/droits/demande/code", data={**fields, "code": wrong}).status_code == 400
        done = c.post("/droits/demande/code", data={**fields, "code": code})
        assert done.status_code == 200 and "est enregistrée" in done.text
        assert c.post("/droits/demande/code", data={**fields, "code": code}).status_code == 400
        _sign_in(c)
        page = c.get("/admin/rights/1").text
        assert "+33612345678" in page
        answered = c.post("/admin/rights/1/answer", data={"csrf": form_token(page, "csrf")})
        assert answered.status_code == 200 and 'id="sent"' in answered.text
        assert sms.sent[-1][0] == "+33612345678"
        link = re.search(r"(http://\S+/droits/reponse\?t=\S+)", sms.sent[-1][1])
        assert link
        letter = c.get(link.group(1))
        assert letter.status_code == 200 and "Votre opposition est enregistrée" in letter.text
    with engine.connect() as conn:
        event = conn.execute(
            text("SELECT event, channel, phone_e164 FROM events WHERE event = 'opposition'")
        ).one()
    assert tuple(event) == ("opposition", "sms", "+33612345678")


def test_the_owners_systems_record_and_follow_requests_with_scoped_keys(
    engine: Engine, tmp_path: Path
) -> None:
    _load(engine, tmp_path)
    writer, _ = create_api_key(engine, role="machine", scopes=("rights:write", "rights:read"))
    reader, _ = create_api_key(engine, role="machine", scopes=("rights:read",))
    other, _ = create_api_key(engine, role="machine", scopes=("oppositions:write",))
    app = create_app(engine, _settings(tmp_path, None))
    with served(app) as url, httpx.Client(base_url=url) as c:

        def auth(key: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {key}"}

        body = {
            "kind": "erasure",
            "email": "C1@example.com",
            "via": "letter",
            "reference": "CRM-42",
            "received_at": "2026-01-31T10:00:00+01:00",
        }
        assert c.post("/api/v1/rights-requests", json=body).status_code == 401
        assert c.post("/api/v1/rights-requests", json=body, headers=auth(reader)).status_code == 403
        made = c.post("/api/v1/rights-requests", json=body, headers=auth(writer))
        assert made.status_code == 201, made.text
        got = made.json()
        assert got["due_on"] == "2026-02-28" and got["email"] == "c1@example.com"
        assert got["status"] == "received" and got["reference"] == "CRM-42"
        assert c.get("/api/v1/rights-requests", headers=auth(other)).status_code == 403
        listed = c.get("/api/v1/rights-requests", headers=auth(reader))
        assert listed.status_code == 200 and [r["id"] for r in listed.json()] == [got["id"]]
        assert "email" not in listed.json()[0]
        assert listed.json()[0]["overdue"] is True  # open after 2026-02-28
        one = c.get(f"/api/v1/rights-requests/{got['id']}", headers=auth(reader))
        assert one.status_code == 200 and one.json()["email"] == "c1@example.com"
        assert c.get("/api/v1/rights-requests/999", headers=auth(reader)).status_code == 404
        bad = {**body, "email": "not-an-email"}
        assert c.post("/api/v1/rights-requests", json=bad, headers=auth(writer)).status_code == 400
        naive = {**body, "received_at": "2027-01-31T10:00:00"}
        assert (
            c.post("/api/v1/rights-requests", json=naive, headers=auth(writer)).status_code == 400
        )
        fix = {"kind": "rectification", "phone": "06 12 34 56 78", "changes": {"salary": "1"}}
        refused = c.post("/api/v1/rights-requests", json=fix, headers=auth(writer))
        assert refused.status_code == 400 and "salary" in refused.text


def test_the_back_office_lists_overdue_requests_first_and_says_when_no_link_can_be_sent(
    engine: Engine, tmp_path: Path
) -> None:
    _load(engine, tmp_path)
    add_account(engine, "admin@example.com", PASSWORD, "admin")
    key, _ = create_api_key(engine, role="machine", scopes=("rights:write",))
    app = create_app(engine, _settings(tmp_path, None))  # no SMTP server
    with served(app) as url, httpx.Client(base_url=url) as c:
        auth = {"Authorization": f"Bearer {key}"}
        fresh = {"kind": "access", "email": "c1@example.com"}
        late = {"kind": "erasure", "email": "c1@example.com", "received_at": "2026-01-31T10:00:00Z"}
        assert c.post("/api/v1/rights-requests", json=fresh, headers=auth).status_code == 201
        assert c.post("/api/v1/rights-requests", json=late, headers=auth).status_code == 201
        _sign_in(c)
        listed = c.get("/admin/rights").text
        rows = re.findall(r'<tr( class="overdue")?>\s*<td><a href="/admin/rights/(\d+)"', listed)
        assert rows == [(' class="overdue"', "2"), ("", "1")]
        assert "en retard" in listed
        page = c.get("/admin/rights/2").text
        assert "2026-02-28" in page and "en retard" in page
        csrf = form_token(page, "csrf")
        refused = c.post("/admin/rights/2/refuse", data={"csrf": csrf, "reason": ""})
        assert refused.status_code == 422 and "indiquez la raison du refus" in refused.text
        # an erasure cannot be undone: without the box that confirms it, nothing is done
        assert 'name="confirm" value="erase" required' in page
        unconfirmed = c.post("/admin/rights/2/answer", data={"csrf": csrf})
        assert unconfirmed.status_code == 422 and "cochez la case" in unconfirmed.text
        with engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM contacts")).scalar() == 1
        answered = c.post("/admin/rights/2/answer", data={"csrf": csrf, "confirm": "erase"})
        # applied and answered; the page says the link could not be sent, and why
        assert answered.status_code == 502 and "smtp_host n&#39;est pas renseigné" in answered.text
        assert "Renvoyer le lien" in answered.text
    with engine.connect() as conn:
        left = conn.execute(text("SELECT COUNT(*) FROM contacts")).scalar()
        status = conn.execute(text("SELECT status FROM rights_requests WHERE id = 2")).scalar()
    assert left == 0 and status == "answered"


def test_the_back_office_extends_a_deadline_and_the_person_is_told_why(
    engine: Engine, tmp_path: Path, smtp: tuple[int, list[Any]]
) -> None:
    _load(engine, tmp_path)
    add_account(engine, "admin@example.com", PASSWORD, "admin")
    key, _ = create_api_key(engine, role="machine", scopes=("rights:write", "rights:read"))
    auth = {"Authorization": f"Bearer {key}"}
    port, received = smtp
    why = "Votre demande porte sur <quinze> ans d'historique."
    # without an SMTP server: decided, the notice not sent, the deadline not moved
    no_smtp = create_app(engine, _settings(tmp_path, None))
    with served(no_smtp) as url, httpx.Client(base_url=url) as c:
        fresh = {"kind": "access", "email": "c1@example.com"}
        assert c.post("/api/v1/rights-requests", json=fresh, headers=auth).status_code == 201
        _sign_in(c)
        page = c.get("/admin/rights/1").text
        assert 'id="extend-form"' in page
        first = re.search(r'id="due">(\d{4}-\d\d-\d\d)', page)
        assert first
        csrf = form_token(page, "csrf")
        empty = c.post("/admin/rights/1/extend", data={"csrf": csrf, "reason": " "})
        assert empty.status_code == 422 and "indiquez la raison de la prolongation" in empty.text
        forged = c.post("/admin/rights/1/extend", data={"csrf": "x", "reason": why})
        assert forged.status_code == 403
        unsent = c.post("/admin/rights/1/extend", data={"csrf": csrf, "reason": why})
        assert unsent.status_code == 502 and "smtp_host n&#39;est pas renseigné" in unsent.text
        assert f"au plus tard le {first.group(1)}" in unsent.text  # the first deadline
        assert f'id="due">{first.group(1)}' in unsent.text
        assert "&lt;quinze&gt;" in unsent.text and 'id="extend-form"' not in unsent.text
        assert "Renvoyer l&#39;avis" in unsent.text
        by_letter = c.post("/admin/rights/1/extension/letter", data={"csrf": csrf})
        assert by_letter.status_code == 200 and 'id="told"' in by_letter.text
        moved = re.search(r'id="due">(\d{4}-\d\d-\d\d)', by_letter.text)
        assert moved and moved.group(1) > first.group(1)
        again = c.post("/admin/rights/1/extension/send", data={"csrf": csrf})
        assert again.status_code == 409
    # with one: the notice mailed, the deadline moved at once
    with (
        served(create_app(engine, _settings(tmp_path, port))) as url,
        httpx.Client(base_url=url) as c,
    ):
        late = {
            "kind": "access",
            "email": "c1@example.com",
            "received_at": "2026-01-31T10:00:00Z",
        }
        assert c.post("/api/v1/rights-requests", json=fresh, headers=auth).status_code == 201
        assert c.post("/api/v1/rights-requests", json=late, headers=auth).status_code == 201
        _sign_in(c)
        assert 'id="extend-form"' not in c.get("/admin/rights/3").text  # its month is over
        csrf = form_token(c.get("/admin/rights/2").text, "csrf")
        done = c.post("/admin/rights/2/extend", data={"csrf": csrf, "reason": why})
        assert done.status_code == 200 and 'id="told"' in done.text
        mail = _mails(received, 1)[0]
        assert mail["To"] == "c1@example.com" and why in _body(mail)
        refused = c.post("/admin/rights/3/extend", data={"csrf": csrf, "reason": why})
        assert refused.status_code == 422 and "au plus tard le 2026-02-28" in refused.text
        shown = c.get("/api/v1/rights-requests/2", headers=auth).json()
    assert shown["extension_reason"] == why and shown["extension_told_at"] is not None
    first_due = due_on(dt.date.fromisoformat(shown["received_at"][:10]))
    assert dt.date.fromisoformat(shown["due_on"]) == due_on(first_due, 2)
    assert len(received) == 1
