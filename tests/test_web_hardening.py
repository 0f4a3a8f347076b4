"""The web application against a hostile client: tokens in any text, server errors,
the API docs' scripts, forged forwarding headers, guessed passwords, and what caches
and browsers are told to keep."""

from __future__ import annotations

import time
from typing import Any

import httpx

from listguard.inbound import add_source
from listguard.propagation import sign
from tests.web_server import PASSWORD, Site, form_token


def _sign_in(c: httpx.Client, password: str = PASSWORD, email: str = "admin@example.com") -> Any:
    token = form_token(c.get("/admin/login").text)
    return c.post("/admin/login", data={"email": email, "password": password, "token": token})


def test_tokens_in_any_text_are_refused_not_server_errors(site: Site) -> None:
    with site.client() as c:
        now = int(time.time())
        for token in (f"{now}.é", "²³.abc", "é", f"{now}.{'x' * 31}é"):
            answer = c.post("/opposition", data={"token": token, "email": "c1@example.com"})
            assert answer.status_code == 400, token
        # a signed acknowledgement link with a signature or a key in any text
        assert c.get("/accuse-reception/lg-1-x", params={"s": "é"}).status_code == 404
        assert c.get("/accuse-reception/lg-1-é", params={"s": "abc"}).status_code == 404
        json = {"accept": "application/json"}
        assert c.post("/accuse-reception/lg-1-é?s=é", headers=json).status_code == 404
        p1 = {"Authorization": f"Bearer {site.p1}"}
        assert c.post("/api/v1/partner/oppositions/lg-1-é/ack", headers=p1).status_code == 404
        # a contact reference whose "digits" are not ASCII ones
        report = c.post("/api/v1/partner/oppositions", headers=p1, json={"contact_ref": "D²-1"})
        assert report.status_code == 404
        # the back office's CSRF token
        _sign_in(c)
        assert c.post("/admin/logout", data={"csrf": "é"}).status_code == 403


def test_a_webhook_signature_in_any_text_is_refused(site: Site) -> None:
    add_source(site.engine, "owner", "s3cret-of-the-owner")
    body = b'{"message_id": "lg-1-a", "type": "opposition", "contacts": []}'
    now = int(time.time())
    with site.client() as c:
        for header in (f"t={now},v1=é", f"t={now},v1={'0' * 63}é", "t=١٢,v1=abc"):
            answer = c.post(
                "/api/v1/inbound/owner",
                content=body,
                headers={b"Listguard-Signature": header.encode("utf-8")},
            )
            assert answer.status_code == 401, header
        good = c.post(
            "/api/v1/inbound/owner",
            content=body,
            headers={"Listguard-Signature": sign("s3cret-of-the-owner", body, now)},
        )
        assert good.status_code == 200
