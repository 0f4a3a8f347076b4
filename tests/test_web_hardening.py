"""The web application against a hostile client: tokens in any text, server errors,
the API docs' scripts, forged forwarding headers, guessed passwords, and what caches
and browsers are told to keep."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from listguard.config import Owner, Settings, WebSettings, load_settings
from listguard.errors import InputError
from listguard.inbound import add_source
from listguard.oppositions import record_opposition
from listguard.propagation.signing import sign
from listguard.web.app import create_app
from tests.scenario import Scenario
from tests.web_server import PASSWORD, Site, form_token, served_site, serving, web_settings


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


HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options")


def test_server_errors_and_missing_pages_carry_the_security_headers(
    engine: Engine, tmp_path: Path
) -> None:
    Scenario(engine, tmp_path).load()
    app = create_app(engine, web_settings(tmp_path))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    with serving(app) as url, httpx.Client(base_url=url) as c:
        # the server error last: uvicorn closes the connection after it
        for path, status in (("/nowhere", 404), ("/api/v1/nowhere", 404), ("/boom", 500)):
            answer = c.get(path)
            assert answer.status_code == status
            for header in HEADERS:
                assert header in answer.headers, (path, header)
            assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
            assert answer.headers["cache-control"] == "no-store"
            assert "a bug" not in answer.text


def test_the_api_docs_load_no_script_from_another_host(site: Site) -> None:
    with site.client() as c:
        page = c.get("/api/docs")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "script-src" not in csp and "default-src 'self'" in csp  # scripts: this host
        sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page.text)
        assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources)
        assert not re.search(r"<script>\s*\S", page.text)  # nothing inline
        for source in sources:
            assert c.get(source).status_code == 200, source
        assert c.get("/api/openapi.json").json()["info"]["title"] == "listguard"


def test_forwarded_for_is_believed_from_trusted_proxies_only() -> None:
    from listguard.web.edge import forwarded_client, networks

    trusted = networks(["127.0.0.1", "10.0.0.0/8"])
    assert forwarded_client("203.0.113.9", "198.51.100.1", trusted) == "203.0.113.9"
    assert forwarded_client("127.0.0.1", "198.51.100.1", trusted) == "198.51.100.1"
    assert forwarded_client("::ffff:127.0.0.1", "198.51.100.1", trusted) == "198.51.100.1"
    # the client wrote the first hop: the last one not a proxy of ours is the client
    assert forwarded_client("127.0.0.1", "1.2.3.4, 198.51.100.1, 10.0.0.2", trusted) == (
        "198.51.100.1"
    )
    assert forwarded_client("127.0.0.1", "not an address", trusted) == "127.0.0.1"
    assert forwarded_client("127.0.0.1", "198.51.100.1", ()) == "127.0.0.1"
    with pytest.raises(ValueError, match="'nope' is not an IP address"):
        networks(["nope"])


def _posts(c: Any, forwarded_for: list[str]) -> list[int]:
    token = form_token(c.get("/opposition").text)
    return [
        c.post(
            "/opposition",
            data={"token": token, "email": "c1@example.com"},
            headers={"X-Forwarded-For": who},
        ).status_code
        for who in forwarded_for
    ]


def test_the_rate_limit_ignores_forwarded_for_from_an_untrusted_peer(
    engine: Engine, tmp_path: Path
) -> None:
    Scenario(engine, tmp_path).load()
    others = ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
    # served as `listguard serve` serves it: a local peer is not a proxy unless named
    app = create_app(engine, web_settings(tmp_path, rate=2))
    with serving(app) as url, httpx.Client(base_url=url) as c:
        assert _posts(c, others) == [200, 200, 429]
    # a named proxy is believed: three clients behind it
    settings = Settings(web=WebSettings(form_rate_per_minute=2, trusted_proxies=("127.0.0.1",)))
    app = create_app(engine, settings)
    with serving(app) as url, httpx.Client(base_url=url) as c:
        assert _posts(c, others) == [200, 200, 200]
        assert _posts(c, ["198.51.100.1", "198.51.100.1"]) == [200, 429]


def test_serve_leaves_forwarded_headers_to_the_application(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from listguard.cli.main import app

    asked: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: asked.update(kw))
    result = CliRunner().invoke(app, ["--db", str(engine.url), "serve"])
    assert result.exit_code == 0, result.output
    assert asked["proxy_headers"] is False  # uvicorn would believe any local peer


def test_trusted_proxies_setting(tmp_path: Path) -> None:
    path = tmp_path / "listguard.toml"
    path.write_text('[web]\ntrusted_proxies = ["127.0.0.1", "10.1.0.0/16"]\n', encoding="utf-8")
    assert load_settings(path).web.trusted_proxies == ("127.0.0.1", "10.1.0.0/16")
    path.write_text('[web]\ntrusted_proxies = ["127.0.0.1", "proxy"]\n', encoding="utf-8")
    with pytest.raises(InputError, match="'proxy' is not an IP address") as bad:
        load_settings(path)
    assert "[web]" in str(bad.value)
    path.write_text('[web]\ntrusted_proxies = "127.0.0.1"\n', encoding="utf-8")
    with pytest.raises(InputError, match="must be a list of texts"):
        load_settings(path)


def test_sign_in_is_throttled_per_account(site: Site) -> None:
    for email in ("admin@example.com", "nobody@example.com"):  # the same whether it exists
        with site.client() as c:
            for _ in range(5):
                assert _sign_in(c, "wrong password!", email).status_code == 401
            refused = _sign_in(c, PASSWORD, email)  # even the right password now
            assert refused.status_code == 429
            assert "Trop de tentatives de connexion à ce compte" in refused.text
            assert "réessayez dans 15 minute(s)" in refused.text
            assert "lg_session" not in refused.headers.get("set-cookie", "")
        with site.client() as c:  # from elsewhere, in English, still throttled
            c.get("/admin/login?lang=en")
            english = _sign_in(c, PASSWORD, email.upper())
            assert english.status_code == 429
            assert "Too many sign-in attempts to this account: try again in 15" in english.text


def test_sign_in_throttle_window_and_reset() -> None:
    from listguard.web.throttle import SignInThrottle

    throttle = SignInThrottle(failures=3, window=60, lock=300)
    throttle.failed("a@example.com", now=0)
    throttle.failed("a@example.com", now=50)
    throttle.failed("a@example.com", now=100)  # the first has left the window
    assert throttle.minutes_left("a@example.com", now=100) == 0
    throttle.failed("a@example.com", now=101)
    assert throttle.minutes_left("a@example.com", now=101) == 5
    assert throttle.minutes_left("a@example.com", now=345) == 1
    assert throttle.minutes_left("a@example.com", now=401) == 0
    assert throttle.minutes_left("b@example.com", now=101) == 0
    throttle.failed("c@example.com", now=0)
    throttle.failed("c@example.com", now=1)
    throttle.succeeded("c@example.com")
    throttle.failed("c@example.com", now=2)
    assert throttle.minutes_left("c@example.com", now=2) == 0


def test_what_caches_may_keep(site: Site) -> None:
    record_opposition(site.engine, channel="all", contact_id="C1")
    p1 = {"Authorization": f"Bearer {site.p1}"}
    with site.client() as c:
        _sign_in(c)
        private = [
            c.get("/admin"),
            c.get("/admin/deliveries"),
            c.get("/api/v1/partner/oppositions", headers=p1),
            c.get("/api/v1/partner/endpoint", headers=p1),
            c.get("/api/v1/partner/deliveries/1/contacts.csv", headers=p1),
            c.get("/opposition"),
        ]
        for answer in private:
            assert answer.status_code == 200, answer.url
            assert answer.headers["cache-control"] == "no-store", answer.url
            assert "strict-transport-security" not in answer.headers  # plain HTTP
        assert "no-store" not in c.get("/static/style.css").headers.get("cache-control", "")
        assert c.get("/partners.json").headers["cache-control"] == "public, max-age=300"


def _home(app: Any, base: str, peer: str, headers: dict[str, str]) -> httpx.Response:
    """``GET /`` from ``peer``, in process (so the scheme may be HTTPS)."""

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(peer, 5000))
        async with httpx.AsyncClient(transport=transport, base_url=base) as c:
            return await c.get("/", headers=headers)

    return asyncio.run(get())


def test_hsts_behind_https(engine: Engine, tmp_path: Path) -> None:
    Scenario(engine, tmp_path).load()
    hsts = "strict-transport-security"
    proto = {"X-Forwarded-Proto": "https"}
    direct = create_app(engine, web_settings(tmp_path))
    assert _home(direct, "https://testserver", "203.0.113.9", {}).headers[hsts] == (
        "max-age=31536000"
    )
    assert hsts not in _home(direct, "http://testserver", "203.0.113.9", {}).headers
    # over HTTP, a forged X-Forwarded-Proto changes nothing, even from a local peer
    assert hsts not in _home(direct, "http://testserver", "127.0.0.1", proto).headers
    proxied = create_app(engine, Settings(web=WebSettings(trusted_proxies=("127.0.0.1",))))
    assert hsts in _home(proxied, "http://testserver", "127.0.0.1", proto).headers
    assert hsts not in _home(proxied, "http://testserver", "203.0.113.9", proto).headers
    public_url = WebSettings(public_url="https://donnees.exemple.fr")
    declared = create_app(engine, Settings(owner=Owner(), web=public_url))
    assert hsts in _home(declared, "http://testserver", "203.0.113.9", {}).headers


def test_a_nul_character_is_refused_wherever_it_is_sent(any_engine: Engine, tmp_path: Path) -> None:
    """PostgreSQL refuses NUL in text: it was a server error, and failed the batch of
    other persons' collections written with it."""
    with served_site(any_engine, tmp_path) as site, site.client() as c:
        machine = {"Authorization": f"Bearer {site.machine}"}
        collection = {
            "idempotency_key": "form-0001-nul",
            "person": {"contact_id": "W\u00001", "email": "w1@example.com"},
            "choices": {"partners_email": "consent"},
            "notice_version": "v1",
        }
        assert c.post("/api/v1/collections", headers=machine, json=collection).status_code == 400
        opposition = {"channel": "email", "email": "c1@exa\u0000mple.com"}
        assert c.post("/api/v1/oppositions", headers=machine, json=opposition).status_code == 400
        token = form_token(c.get("/opposition").text)
        form = {"token": token, "email": "c1@example.com", "city": "Paris\u0000"}
        assert c.post("/opposition", data=form).status_code == 400
        assert c.get("/desinscription/abc%00def").status_code == 400
        _sign_in(c)
        assert c.get("/admin", params={"rentable": "P1\u0000"}).status_code == 400
        assert c.get("/admin/partners?edit=%00").status_code == 400
        # the same without NUL is answered as usual
        collection["person"] = {"contact_id": "W1", "email": "w1@example.com"}
        assert c.post("/api/v1/collections", headers=machine, json=collection).status_code == 201


def test_a_delivery_id_beyond_any_integer_is_refused(site: Site) -> None:
    with site.client() as c:
        _sign_in(c)
        for path in ("/admin/deliveries/99999999999999999999", "/admin/deliveries/0/notice.txt"):
            assert c.get(path).status_code == 422, path
        assert c.get("/admin/deliveries/1").status_code == 200


def test_a_collection_s_postal_code_fits_its_column(any_engine: Engine, tmp_path: Path) -> None:
    """PostgreSQL refuses a postal code longer than its column: it was a server error."""
    with served_site(any_engine, tmp_path) as site, site.client() as c:
        machine = {"Authorization": f"Bearer {site.machine}"}
        for n, (postal_code, status) in enumerate((("1" * 17, 422), ("1" * 16, 201))):
            body = {
                "idempotency_key": f"form-000{n}-postal",
                "person": {
                    "contact_id": f"W{n}",
                    "email": "w@example.com",
                    "postal_code": postal_code,
                },
                "choices": {"partners_email": "consent"},
                "notice_version": "v1",
            }
            assert c.post("/api/v1/collections", headers=machine, json=body).status_code == status
