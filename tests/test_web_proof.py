"""The consent proof from the public rights page (no account) and from the back office,
through a real server on loopback, with a real SMTP server and a fake SMS adapter."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pypdfium2 as pdfium
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, text

from listguard.accounts import add_account
from listguard.config import NotifySettings, Settings, SmsSettings
from listguard.errors import InputError
from listguard.proof.access import make_link_token
from listguard.proof.senders import register_sms_provider, sms_sender
from listguard.storage.engine import writing
from listguard.timeutil import now_ts, to_day
from listguard.web.app import create_app
from tests.scenario import Scenario, contact
from tests.web_server import PASSWORD, form_token, serving, web_settings


class FakeSms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, number: str, body: str) -> None:
        self.sent.append((number, body))


@pytest.fixture
def smtp() -> Iterator[tuple[int, list[Any]]]:
    with smtp_server() as served:
        yield served


@contextmanager
def smtp_server() -> Iterator[tuple[int, list[Any]]]:
    """A real SMTP server on loopback that keeps what it receives."""
    from aiosmtpd.controller import Controller

    received: list[Any] = []

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def _settings(tmp: Path, port: int | None, rate: int = 1000) -> Settings:
    base = web_settings(tmp, rate)
    if port is None:
        return base
    notify = NotifySettings(smtp_host="127.0.0.1", smtp_port=port, sender="droits@owner.example")
    return dataclasses.replace(base, notify=notify)


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """``serving``, with ``[web] public_url`` the server's address (links are made
    from it), known once it listens."""
    with serving(app) as url:
        w = app.state.web
        w.settings = dataclasses.replace(
            w.settings, web=dataclasses.replace(w.settings.web, public_url=url)
        )
        yield url


def _load(engine: Engine, tmp: Path) -> None:
    Scenario(
        engine,
        tmp,
        contacts=[contact("C1", email="c1@example.com", mobile="06 12 34 56 78")],
    ).load()


def _mails(received: list[Any], count: int) -> list[Message]:
    deadline = time.monotonic() + 10
    while len(received) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return [message_from_bytes(e.content) for e in received]


def _body(mail: Message) -> str:
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def _first_page(pdf: bytes) -> str:
    document = pdfium.PdfDocument(pdf)
    found = document[0].get_textpage().get_text_range()
    document[0].render(scale=1).to_pil()
    document.close()
    return str(found)


def _ask(c: httpx.Client, **fields: str) -> httpx.Response:
    token = form_token(c.get("/droits").text)
    return c.post("/droits/preuve", data={"token": token, **fields})


def test_a_person_obtains_the_proof_by_a_link_mailed_to_them(
    engine: Engine, tmp_path: Path, smtp: tuple[int, list[Any]]
) -> None:
    _load(engine, tmp_path)
    port, received = smtp
    app = create_app(engine, _settings(tmp_path, port))
    with served(app) as url, httpx.Client(base_url=url) as c:
        page = c.get("/droits").text
        assert "Obtenir la preuve de mes consentements" in page
        assert 'id="phone"' not in page and 'id="no-sms"' in page  # no SMS adapter set
        held = _ask(c, email=" C1@Example.com ")
        unknown = _ask(c, email="nobody@example.com")
        # the same answer whether the address is held or not
        assert held.status_code == unknown.status_code == 200
        assert held.text == unknown.text and "Si cette adresse figure" in held.text
        mails = _mails(received, 1)
        time.sleep(0.3)  # the unknown address's request is done: still one mail
        assert len(received) == 1 and mails[0]["To"] == "c1@example.com"
        link = re.search(r"(http://\S+/droits/preuve\?t=\S+)", _body(mails[0]))
        assert link, _body(mails[0])
        got = c.get(link.group(1))
        assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
        assert got.headers["content-disposition"].startswith("attachment")
        assert got.headers["referrer-policy"] == "no-referrer"
        assert got.headers["cache-control"] == "no-store"
        assert "c1@example.com" in _first_page(got.content)
        # altered or made-up links: 404, saying nothing of why
        token = link.group(1).split("t=", 1)[1]
        for bad in (token[:-1] + ("0" if token[-1] != "0" else "1"), "x.1.y", ""):
            refused = c.get("/droits/preuve", params={"t": bad})
            assert refused.status_code == 404 and "%PDF" not in refused.text
        # the link is made from [web] public_url, whatever Host the request names
        token = form_token(c.get("/droits").text)
        forged = c.post(
            "/droits/preuve",
            data={"token": token, "email": "c1@example.com"},
            headers={"Host": "attacker.example"},
        )
        assert forged.status_code == 200
        mails = _mails(received, 2)
        assert _body(mails[1]).count(f"{url}/droits/preuve?t=") == 1
        assert "attacker.example" not in _body(mails[1])
        assert _ask(c, email="not-an-email").status_code == 422
        assert _ask(c).status_code == 422  # neither email nor number
        assert c.post("/droits/preuve", data={"email": "c1@example.com"}).status_code == 400
    with engine.connect() as conn:
        audited = conn.execute(
            text("SELECT COUNT(*) FROM audit_log WHERE action = 'consent_proof'")
        ).scalar()
    assert audited == 1
    # without [web] public_url no link can be made: the email option is not offered
    plain = create_app(engine, _settings(tmp_path, port))
    with serving(plain) as url, httpx.Client(base_url=url) as c:
        page = c.get("/droits").text
        assert 'id="email"' not in page and 'id="no-email"' in page
        english = c.get("/droits", params={"lang": "en"}).text
        assert "Obtain the proof of my consents" in english
        assert "Asking by SMS is not offered" in english


def test_an_expired_link_gives_nothing(engine: Engine, tmp_path: Path) -> None:
    _load(engine, tmp_path)
    app = create_app(engine, _settings(tmp_path, None))
    with writing(engine) as conn:
        expired = make_link_token(conn, "c1@example.com", now_ts() - 1)
        valid = make_link_token(conn, "c1@example.com", now_ts() + 3600)
    with serving(app) as url, httpx.Client(base_url=url) as c:
        refused = c.get("/droits/preuve", params={"t": expired})
        assert refused.status_code == 404 and "%PDF" not in refused.text
        assert c.get("/droits/preuve", params={"t": valid}).status_code == 200


def test_a_person_obtains_the_proof_by_a_code_sent_by_sms(engine: Engine, tmp_path: Path) -> None:
    _load(engine, tmp_path)
    sms = FakeSms()
    app = create_app(engine, _settings(tmp_path, None), sms=sms)
    with serving(app) as url, httpx.Client(base_url=url) as c:
        page = c.get("/droits").text
        assert 'id="phone"' in page and 'id="email"' not in page  # no SMTP server set
        asked = _ask(c, phone="06 12 34 56 78")
        unknown = _ask(c, phone="06 99 99 99 99")
        assert asked.status_code == unknown.status_code == 200
        assert "Si ce numéro figure" in asked.text
        deadline = time.monotonic() + 10
        while not sms.sent and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert [n for n, _ in sms.sent] == ["+33612345678"]
        code = re.findall(r"\b\d{6}\b", sms.sent[0][1])[0]
        wrong = "000000" if code != "000000" else "111111"
        token = form_token(asked.text)
        fields = {"token": token, "phone": "+33612345678"}
        bad = c.post("/droits/preuve/code", data={**fields, "code": wrong})
        assert bad.status_code == 400 and "%PDF" not in bad.text
        got = c.post("/droits/preuve/code", data={**fields, "code": code})
        assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
        assert "+33612345678" in _first_page(got.content)
        # a code works once
        assert c.post("/droits/preuve/code", data={**fields, "code": code}).status_code == 400


def test_requests_are_limited_per_number(engine: Engine, tmp_path: Path) -> None:
    _load(engine, tmp_path)
    sms = FakeSms()
    app = create_app(engine, _settings(tmp_path, None), sms=sms)
    with serving(app) as url, httpx.Client(base_url=url) as c:
        codes = [_ask(c, phone="06 12 34 56 78").status_code for _ in range(4)]
        other = _ask(c, phone="06 12 34 56 79").status_code
    assert codes == [200, 200, 200, 429] and other == 200


def test_the_sms_adapter_is_named_by_the_settings() -> None:
    assert sms_sender(SmsSettings()) is None
    with pytest.raises(InputError, match="no such SMS adapter"):
        sms_sender(SmsSettings(provider="unknown-provider"))
    fake = FakeSms()
    register_sms_provider("test-fake", lambda settings: fake)
    assert sms_sender(SmsSettings(provider="test-fake")) is fake


def test_the_back_office_downloads_a_persons_proof_with_a_session(
    engine: Engine, tmp_path: Path
) -> None:
    _load(engine, tmp_path)
    add_account(engine, "admin@example.com", PASSWORD, "admin")
    app = create_app(engine, _settings(tmp_path, None))
    with serving(app) as url, httpx.Client(base_url=url) as c:
        asked = {"kind": "email", "value": "c1@example.com"}
        assert c.get("/admin/contacts", params=asked).status_code == 303
        anonymous = c.post("/admin/contacts/proof.pdf", data={**asked, "csrf": "x"})
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/admin/login"
        token = form_token(c.get("/admin/login").text)
        c.post(
            "/admin/login",
            data={"email": "admin@example.com", "password": PASSWORD, "token": token},
        )
        csrf = form_token(c.get("/admin/contacts").text, "csrf")
        assert c.post("/admin/contacts", data={**asked, "csrf": "x"}).status_code == 403
        page = c.post("/admin/contacts", data={**asked, "csrf": csrf})
        assert page.status_code == 200 and "C1" in page.text
        # looked up by POST: the address is in no URL, not even the one a GET would take
        assert "C1" not in c.get("/admin/contacts", params=asked).text
        assert c.post("/admin/contacts/proof.pdf", data={**asked, "csrf": "x"}).status_code == 403
        pdf = c.post("/admin/contacts/proof.pdf", data={**asked, "csrf": csrf})
        assert pdf.status_code == 200 and "c1@example.com" in _first_page(pdf.content)
        got = c.post("/admin/contacts/proof.json", data={**asked, "csrf": csrf})
        assert got.status_code == 200 and got.json()["document"] == "consent_proof"
        nobody = {"kind": "email", "value": "nobody@example.com", "csrf": csrf}
        assert c.post("/admin/contacts/proof.pdf", data=nobody).status_code == 404
        # an error no handler answers is said in the page's language on the error page
        typo = {"kind": "phone", "value": "not a number", "csrf": csrf}
        wrong = c.post("/admin/contacts/proof.pdf", data=typo)
        assert wrong.status_code == 400 and "pas un numéro de téléphone valide" in wrong.text
        wrong = c.post("/admin/contacts/proof.pdf?lang=en", data=typo)
        assert "is not a valid phone number" in wrong.text


def test_the_back_office_shows_the_consents_about_to_lapse(engine: Engine, tmp_path: Path) -> None:
    collected = to_day(now_ts()) - dt.timedelta(days=350)  # lapses in 15 days
    Scenario(
        engine,
        tmp_path,
        contacts=[
            contact("C1", email="c1@example.com", collected_at=collected.isoformat()),
            contact("C2", email="c2@example.com", mobile="06 12 34 56 79"),  # later
        ],
    ).load()
    add_account(engine, "admin@example.com", PASSWORD, "admin")
    app = create_app(engine, _settings(tmp_path, None))
    last = (collected + dt.timedelta(days=365)).isoformat()
    with serving(app) as url, httpx.Client(base_url=url) as c:
        assert c.get("/admin/consents/expiring").status_code == 303
        token = form_token(c.get("/admin/login").text)
        c.post(
            "/admin/login",
            data={"email": "admin@example.com", "password": PASSWORD, "token": token},
        )
        page = c.get("/admin/contacts", params={"contact": "C1"}).text
        lapsing = page.split('id="lapsing"', 1)[1]
        assert last in lapsing and "<td>Appels téléphoniques</td>" in lapsing
        other = c.get("/admin/contacts", params={"contact": "C2"}).text
        assert 'id="lapsing"' not in other
        every = c.get("/admin/consents/expiring").text.split('id="lapsing"', 1)[1]
        assert "C1" in every and "C2" not in every and "+33612345678" in every
        assert 'href="/admin/contacts?contact=C1"' in every
        later = c.get("/admin/consents/expiring", params={"within": 60}).text
        assert "C2" in later.split('id="lapsing"', 1)[1]
        assert c.get("/admin/consents/expiring", params={"within": 0}).status_code == 400


def test_a_mail_that_cannot_be_sent_is_logged_and_the_answer_is_the_same(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _load(engine, tmp_path)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = int(probe.getsockname()[1])
    app = create_app(engine, _settings(tmp_path, closed))
    with (
        caplog.at_level("ERROR", "listguard.web"),
        served(app) as url,
        httpx.Client(base_url=url) as c,
    ):
        held = _ask(c, email="c1@example.com")
        unknown = _ask(c, email="nobody@example.com")
        deadline = time.monotonic() + 10
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.05)
    assert held.text == unknown.text and held.status_code == 200
    logged = [r.getMessage() for r in caplog.records if r.name == "listguard.web"]
    assert len(logged) == 1  # the held address's mail only: the other sends none
    assert logged[0].startswith("a consent proof request could not be sent:")
