"""Property-based tests of the web application from OpenAPI schemas (schemathesis):
whatever a client sends, the server answers without a server error.

The published schema's routes (the owner's systems', the partners', the partner side's
webhook) are called with a key of the right kind, or a valid signature, and their
answers must also match the schema. The public pages and the back office are left out
of the published schema: they are fuzzed from a schema of every route, anonymously and
signed in, for server errors only."""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests
import schemathesis
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine

from listguard.inbound import add_source
from listguard.oppositions import record_opposition
from listguard.propagation.signing import SIGNATURE_HEADER, sign
from tests.web_server import PASSWORD, Site, form_token, served_site

# examples per operation: a bounded run in CI (more for a longer search)
EXAMPLES = int(os.environ.get("LISTGUARD_FUZZ_EXAMPLES", "30"))
SOURCE, SECRET = "owner", "the-owner-signing-key"


def _fuzz(
    operation: Any,
    url: str,
    checks: list[Any],
    *,
    headers: dict[str, str] | None = None,
    session: requests.Session | None = None,
    path: dict[str, str] | None = None,
    examples: int = EXAMPLES,
) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def check(case: schemathesis.Case[Any]) -> None:
        if path:
            case.path_parameters = {**(case.path_parameters or {}), **path}
        case.call_and_validate(base_url=url, headers=headers, session=session, checks=checks)

    check()


def _body(r: requests.PreparedRequest) -> bytes:
    body = r.body or b""
    if isinstance(body, str):
        return body.encode("utf-8")
    assert isinstance(body, bytes)  # schemathesis sends whole bodies
    return body


class _Signed(requests.auth.AuthBase):
    """Signs each body as the owner's registry signs its webhooks."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        raw = _body(r)
        r.headers[SIGNATURE_HEADER] = sign(SECRET, raw, int(time.time()))
        return r


def test_no_server_error_whatever_is_sent(any_engine: Engine, tmp_path: Path) -> None:
    engine = any_engine
    with served_site(engine, tmp_path) as site:
        record_opposition(engine, channel="all", contact_id="C1")  # messages to pull
        add_source(engine, SOURCE, SECRET)
        schema = schemathesis.openapi.from_url(f"{site.url}/api/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
        assert len(operations) >= 17  # the owner API among them (web/api/owner.py)
        checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
        signed = requests.Session()
        signed.auth = _Signed()
        for operation in operations:
            partner = operation.path.startswith("/api/v1/partner/")
            key = site.p1 if partner else site.machine
            _fuzz(operation, site.url, checks, headers={"Authorization": f"Bearer {key}"})
            if operation.path.startswith("/api/v1/inbound/"):  # past the signature check
                _fuzz(operation, site.url, checks, session=signed, path={"source": SOURCE})


def _pages_schema() -> dict[str, Any]:
    """An OpenAPI schema of the routes the published one leaves out: the public pages
    and the back office."""
    from listguard.web import admin, public

    routes = []
    for route in [*public.router.routes, *admin.router.routes]:
        if isinstance(route, APIRoute):
            shown = copy.copy(route)
            shown.include_in_schema = True
            routes.append(shown)
    return get_openapi(title="listguard pages", version="test", routes=routes)


class _WithCsrf(requests.auth.AuthBase):
    """Puts the session's CSRF token in each form (but signing out's), so that the back
    office's forms are fuzzed past it."""

    def __init__(self, csrf: str) -> None:
        self.csrf = csrf

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        kind = str(r.headers.get("Content-Type", ""))
        if kind.startswith("application/x-www-form-urlencoded") and "/logout" not in str(r.url):
            text = _body(r).decode("utf-8")
            fields = [(k, v) for k, v in parse_qsl(text, keep_blank_values=True) if k != "csrf"]
            r.prepare_body(urlencode([*fields, ("csrf", self.csrf)]), None)
        return r


def _signed_in(site: Site) -> requests.Session:
    session = requests.Session()
    token = form_token(session.get(f"{site.url}/admin/login").text)
    answer = session.post(
        f"{site.url}/admin/login",
        data={"email": "admin@example.com", "password": PASSWORD, "token": token},
        allow_redirects=False,
    )
    assert answer.status_code == 303
    session.auth = _WithCsrf(form_token(session.get(f"{site.url}/admin").text, "csrf"))
    return session


def test_no_server_error_on_the_pages_whatever_is_sent(any_engine: Engine, tmp_path: Path) -> None:
    engine = any_engine
    with served_site(engine, tmp_path) as site:
        record_opposition(engine, channel="all", contact_id="C1")
        schema = schemathesis.openapi.from_dict(_pages_schema())
        operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
        paths = {o.path for o in operations}
        assert {
            "/opposition",
            "/desinscription/{token}",
            "/admin/login",
            "/admin/partners",
        } <= paths
        signed_in = _signed_in(site)
        for operation in operations:
            if operation.path.startswith("/admin"):
                _fuzz(
                    operation,
                    site.url,
                    [not_a_server_error],
                    session=signed_in,
                    examples=EXAMPLES // 2,
                )
            _fuzz(operation, site.url, [not_a_server_error], examples=EXAMPLES // 2)
