"""The web application's seams: the typed grants its routes receive and the one handler
that answers domain errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from fastapi import HTTPException
from sqlalchemy import Engine, text

from listguard.accounts import ApiKey
from listguard.collection import ConflictError
from listguard.errors import InputError
from listguard.inbound import Refused
from listguard.web.app import create_app
from listguard.web.deps import OwnerGrant, PartnerGrant, owner_scope, partner_scope
from tests.scenario import Scenario
from tests.web_server import Site, serving, web_settings


def _key(role: str, partner_id: str | None, *scopes: str) -> ApiKey:
    return ApiKey(1, role, partner_id, frozenset(scopes), "test")


def test_a_partner_grant_always_names_its_partner() -> None:
    check = partner_scope("deliveries:read").dependency
    grant = asyncio.run(check(_key("partner", "P1", "deliveries:read")))
    assert grant == PartnerGrant("P1", _key("partner", "P1", "deliveries:read"))
    for key in (
        _key("partner", "P1", "oppositions:read"),  # without the route's scope
        _key("machine", None, "deliveries:read"),  # a key that speaks for no partner
    ):
        with pytest.raises(HTTPException) as refused:
            asyncio.run(check(key))
        assert refused.value.status_code == 403
    owner = owner_scope("sms:stop").dependency
    assert asyncio.run(owner(_key("machine", None, "sms:stop"))) == OwnerGrant(
        _key("machine", None, "sms:stop")
    )
    with pytest.raises(HTTPException):
        asyncio.run(owner(_key("machine", None, "calls:check")))


def test_the_routes_grants_refuse_the_wrong_key(site: Site) -> None:
    machine = {"Authorization": f"Bearer {site.machine}"}
    p1 = {"Authorization": f"Bearer {site.p1}"}
    with site.client() as c:
        refused = c.get("/api/v1/partner/deliveries", headers=machine)
        assert refused.status_code == 403
        assert refused.json() == {"detail": "this key lacks the scope deliveries:read"}
        assert c.get("/api/v1/calls/check?number=0612345678", headers=p1).status_code == 403
        assert c.get("/api/v1/partner/endpoint").status_code == 401


def test_domain_errors_are_answered_by_one_handler(engine: Engine, tmp_path: Path) -> None:
    Scenario(engine, tmp_path).load()
    app = create_app(engine, web_settings(tmp_path))

    def wrong() -> None:
        raise InputError("not a date", where="at")

    def reused() -> None:
        raise ConflictError("the key was used for another collection")

    def refused() -> None:
        raise Refused(401, "bad_signature", "the signature does not match")

    for path, raising in (("wrong", wrong), ("reused", reused), ("refused", refused)):
        app.add_api_route(f"/api/v1/test/{path}", raising)
        app.add_api_route(f"/test/{path}", raising)
        app.add_api_route(f"/admin/test/{path}", raising)
    with serving(app) as url, httpx.Client(base_url=url) as c:
        api = c.get("/api/v1/test/wrong")
        assert (api.status_code, api.json()) == (400, {"detail": "at: not a date"})
        page = c.get("/test/wrong")
        assert page.status_code == 400 and "text/html" in page.headers["content-type"]
        # a person reads the status in words, in French by default; the team also reads
        # the handler's detail
        assert "<h1>Demande non valide</h1>" in page.text and "not a date" not in page.text
        english = c.get("/test/wrong?lang=en")
        assert "<h1>Invalid request</h1>" in english.text
        back_office = c.get("/admin/test/wrong", params={"lang": "fr"})
        assert "<h1>Demande non valide</h1>" in back_office.text
        assert '<span lang="en">at: not a date</span>' in back_office.text
        conflict = c.get("/api/v1/test/reused")
        assert conflict.status_code == 409
        assert conflict.json() == {"detail": "the key was used for another collection"}
        assert c.get("/test/reused").status_code == 409
        signature = c.get("/api/v1/test/refused")
        assert signature.status_code == 401
        assert signature.json() == {"detail": "the signature does not match"}
    app.state.web.refusals.flush()
    with engine.connect() as conn:
        counted = conn.execute(
            text("SELECT sum(count) FROM refusals WHERE reason = 'bad_signature'")
        ).scalar()
    assert counted == 1
