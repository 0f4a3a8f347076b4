"""Partners' webhook and privacy-policy addresses: one check on every route, and a
sending that connects only to the public address it checked."""

from __future__ import annotations

import csv
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from listguard import netguard
from listguard.errors import InputError
from listguard.imports import import_file
from listguard.netguard import NotPublic, check_endpoint_url, check_link_url, public_address
from listguard.oppositions import record_opposition
from listguard.propagation.transports.routing import Transports
from listguard.propagation.transports.webhook import WebhookTransport
from listguard.propagation.worker import run_once
from tests.scenario import Scenario, contact, partner, write_csv
from tests.test_cli import cli, ok, user_error
from tests.test_web import _sign_in
from tests.web_server import Site, form_token

# the addresses of the issue, then other forms of this machine and the owner's network
ISSUE = [
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.5:8443/admin",
    "https://[::ffff:a9fe:a9fe]/",
    "http://127.0.0.1:22/",
    "http://localhost:6379/",
    "https://0.0.0.0/",
    "https://2130706433/",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "http://crm.example.com/hook",
]
OTHERS = [
    "https://0x7f.1/",
    "https://127.1/",
    "https://0177.0.0.1/",
    "https://0x7f000001/",
    "https://localhost/",
    "https://api.localhost/",
    "https://redis/",
    "https://metadata.google.internal/",
    "https://[::1]/",
    "https://[::]/",
    "https://[fd00::1]/",
    "https://[fe80::1%25eth0]/",
    "https://[2002:a9fe:a9fe::]/",  # 6to4 of 169.254.169.254
    "https://[64:ff9b::a00:5]/",  # NAT64 of 10.0.0.5
    "https://100.64.0.1/",
    "https://192.168.1.1/",
    "https://224.0.0.1/",
    "https://[fec0::1]/",  # deprecated site-local
    "https://[fefe::1]/",
    "https://192.0.0.8/",  # IETF protocol assignments
    "https://192.0.0.9/",
    "https://[::ffff:192.0.0.9]/",
    "https://user:pass@crm.example.com/",
    "https://crm.example.com@10.0.0.5/",
    "https://crm.example.com/\r\nX: y",
    "data:text/html,<script>alert(1)</script>",
    "",
]
# hosts the sender reads otherwise, or refuses: refused when given, whatever the setting
UNICODE_HOSTS = [
    "https://ⓔⓥⓘⓛ.com/",  # circled letters
    "https://１２７.０.０.１/",  # fullwidth digits
    "https://127。0。0。1/",  # ideographic full stops: 127.0.0.1
    "https://crm．example.com/",
]


@pytest.mark.parametrize("url", ISSUE + OTHERS)
def test_addresses_of_this_machine_and_the_network_are_refused(url: str) -> None:
    with pytest.raises(InputError, match="is not a webhook address"):
        check_endpoint_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://crm.example.com/hook",
        "https://crm.example.com:8443/hook?x=1",
        "https://hooks.café.example/h",
        "https://93.184.216.34/hook",
        "https://[2606:4700::1111]/hook",
    ],
)
def test_public_https_addresses_are_accepted(url: str) -> None:
    assert check_endpoint_url(url, allow_private=False) == url


@pytest.mark.parametrize("url", UNICODE_HOSTS)
@pytest.mark.parametrize("allow_private", [False, True])
def test_a_host_the_sender_would_read_otherwise_is_refused(url: str, allow_private: bool) -> None:
    with pytest.raises(InputError, match="not a valid name"):
        check_endpoint_url(url, allow_private=allow_private)


def test_the_test_setting_accepts_loopback_and_http() -> None:
    assert check_endpoint_url("http://127.0.0.1:8080/h", allow_private=True)
    with pytest.raises(InputError):  # still an address of the web
        check_endpoint_url("file:///etc/passwd", allow_private=True)


@pytest.mark.parametrize(
    "url", ["javascript:alert(document.cookie)", "data:text/html,x", "JavaScript:x", "//x.fr"]
)
def test_a_privacy_policy_link_is_http_or_https(url: str) -> None:
    with pytest.raises(InputError, match="http:// or https://"):
        check_link_url(url, "privacy_policy_url")
    assert check_link_url("http://p1.example.com/vie-privee")


def test_a_policy_link_stored_before_the_check_is_not_shown(site: Site) -> None:
    with site.engine.begin() as conn:
        conn.execute(text("UPDATE partners SET privacy_policy_url = 'javascript:alert(1)'"))
    with site.client() as c:
        page = c.get("/partenaires")
        listed = c.get("/partners.json")
    assert page.status_code == 200 and "javascript:" not in page.text
    assert [p["privacy_policy_url"] for p in listed.json()["partners"]] == [None, None]


def test_the_partners_import_refuses_them_with_a_message_per_line(
    engine: Engine, tmp_path: Path
) -> None:
    rows = [partner(f"P{i}", notify_url=url) for i, url in enumerate(ISSUE)]
    rows += [
        partner("Q1", privacy_policy_url="javascript:alert(1)"),
        partner("Q2", privacy_policy_url="data:text/html,x"),
        partner("OK", notify_url="https://crm.example.com/hook"),
    ]
    rejects = tmp_path / "rejects.csv"
    report = import_file(
        engine, "partners", write_csv(tmp_path / "p.csv", rows), rejects_path=rejects
    )
    assert (report.rows_new, report.rows_rejected) == (1, len(ISSUE) + 2)
    with rejects.open(encoding="utf-8-sig") as f:
        bad = list(csv.DictReader(f, delimiter=";"))
    assert [(b["line"], b["column"], b["value"]) for b in bad] == [
        (str(i + 2), "notify_url", url) for i, url in enumerate(ISSUE)
    ] + [
        (str(len(ISSUE) + 2), "privacy_policy_url", "javascript:alert(1)"),
        (str(len(ISSUE) + 3), "privacy_policy_url", "data:text/html,x"),
    ]
    assert all(b["message"].startswith(b["column"] + ": ") for b in bad)
    assert "https://... expected" in bad[3]["message"]
    assert "not a public address" in bad[0]["message"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT partner_id FROM partners")).scalars().all() == ["OK"]


def test_the_partner_api_refuses_them(site: Site) -> None:
    p1 = {"Authorization": f"Bearer {site.p1}"}
    with site.client() as c:
        for url in ISSUE:
            put = c.put("/api/v1/partner/endpoint", headers=p1, json={"notify_url": url})
            assert put.status_code == 400, url
            assert "is not a webhook address" in put.json()["detail"]
        assert c.get("/api/v1/partner/endpoint", headers=p1).json()["notify_url"] is None


def test_the_back_office_partner_form_refuses_them(site: Site) -> None:
    with site.client() as c:
        _sign_in(c)
        for field, url in [("notify_url", u) for u in ISSUE] + [
            ("privacy_policy_url", "javascript:alert(1)")
        ]:
            csrf = form_token(c.get("/admin/partners").text, "csrf")
            form = {**partner("P9"), "csrf": csrf, field: url}
            page = c.post("/admin/partners", data=form)
            # said in French on the French page: the column, then why in French
            assert page.status_code == 422 and f"{field} : " in page.text, url
            assert f"{field}: " not in page.text, url
    with site.engine.connect() as conn:
        saved = conn.execute(text("SELECT count(*) FROM partners WHERE partner_id = 'P9'"))
        assert saved.scalar() == 0


def test_the_command_refuses_them(tmp_path: Path) -> None:
    ok(tmp_path, "init")
    ok(tmp_path, "import", "partners", str(write_csv(tmp_path / "p.csv", [partner()])))
    for url in ISSUE:
        message = user_error(tmp_path, "partner-endpoint", "P1", "--url", url)
        assert "is not a webhook address" in message, url
    assert "notify_url:       -" in ok(tmp_path, "partner-endpoint", "P1")


def test_the_test_setting_is_warned_at_start(tmp_path: Path) -> None:
    ok(tmp_path, "init")
    ok(tmp_path, "import", "partners", str(write_csv(tmp_path / "p.csv", [partner()])))
    config = tmp_path / "tests.toml"
    config.write_text("[propagation]\nallow_private_endpoints = true\n", encoding="utf-8")
    done = cli(
        tmp_path, "--config", str(config), "partner-endpoint", "P1", "--url", "http://127.0.0.1:9/"
    )
    assert done.returncode == 0, done.stderr
    assert "allow_private_endpoints is on" in done.stderr
    assert "allow_private_endpoints" not in cli(tmp_path, "partner-endpoint", "P1").stderr


def test_a_bad_privacy_policy_link_in_the_settings_is_named(tmp_path: Path) -> None:
    from listguard.config import load_settings

    path = tmp_path / "cfg.toml"
    path.write_text('[owner]\nprivacy_policy_url = "javascript:alert(1)"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"cfg.toml \[owner\]: privacy_policy_url"):
        load_settings(path)


# --- sending -------------------------------------------------------------------------


class Hook(BaseHTTPRequestHandler):
    received: list[dict[str, str]]
    answer: int = 200
    location: str = ""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(dict(self.headers))
        self.send_response(self.answer)
        if self.location:
            self.send_header("Location", self.location)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[type[Hook], int]]:
    handler = type("H", (Hook,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield handler, int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _names(mapping: dict[str, list[str]]) -> Any:
    def resolve(host: str, port: int) -> list[str]:
        if host not in mapping:
            raise OSError("unknown name")
        return mapping[host]

    return resolve


def _holding(engine: Engine, tmp_path: Path, url: str) -> None:
    """P1 holds C1's email and sends it to ``url`` (stored as it was before the checks)."""
    sc = Scenario(engine, tmp_path, contacts=[contact("C1")], partners=[partner("P1")])
    sc.load()
    sc.rent(partner="P1", channels=("email",))
    with engine.begin() as conn:
        conn.execute(text("UPDATE partners SET notify_url = :u"), {"u": url})
    record_opposition(engine, channel="email", contact_id="C1")


def _outbox(engine: Engine) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT status, last_error FROM outbox")).one()
    return str(row[0]), row[1]


def test_a_name_resolving_to_this_machine_is_refused_at_send_time(
    engine: Engine, tmp_path: Path, hook: tuple[type[Hook], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, port = hook
    # accepted when given (a public-looking name), pointed at loopback afterwards
    url = f"https://hook.example.com:{port}/h"
    assert check_endpoint_url(url, allow_private=False)
    _holding(engine, tmp_path, url)
    monkeypatch.setattr(netguard, "resolve", _names({"hook.example.com": ["127.0.0.1"]}))
    webhook = WebhookTransport(timeout=5, allow_private=False)
    report = run_once(engine, Transports(webhook=webhook))
    webhook.close()
    assert (report.sent, report.retried) == (0, 1)
    assert handler.received == []
    status, error = _outbox(engine)
    assert (
        status == "pending"
        and error == "refused: the host resolves to an address that is not public"
    )


@pytest.mark.parametrize(
    "address", ["fec0::1", "feff:ffff::1", "192.0.0.0", "192.0.0.8", "192.0.0.9", "192.0.0.255"]
)
def test_site_local_and_protocol_assignment_addresses_are_not_public(address: str) -> None:
    import ipaddress

    assert not netguard.is_public(ipaddress.ip_address(address))
    with pytest.raises(NotPublic):
        public_address("hook.example.com", 443, False, _names({"hook.example.com": [address]}))
    assert netguard.is_public(ipaddress.ip_address("192.0.1.1"))  # just outside


@pytest.mark.parametrize(
    "answers", [["127.0.0.1"], ["93.184.216.34", "10.0.0.5"], ["::ffff:169.254.169.254"], []]
)
def test_every_address_a_name_resolves_to_must_be_public(answers: list[str]) -> None:
    with pytest.raises(NotPublic):
        public_address("hook.example.com", 443, False, _names({"hook.example.com": answers}))
    resolve = _names({"hook.example.com": ["93.184.216.34", "2606:4700::1111"]})
    assert public_address("hook.example.com", 443, False, resolve) == "93.184.216.34"


def test_stored_addresses_are_checked_again_when_sending(
    engine: Engine, tmp_path: Path, hook: tuple[type[Hook], int]
) -> None:
    handler, port = hook
    _holding(engine, tmp_path, f"http://127.0.0.1:{port}/h")  # stored before the checks
    webhook = WebhookTransport(timeout=5, allow_private=False)
    assert run_once(engine, Transports(webhook=webhook)).sent == 0
    webhook.close()
    assert handler.received == []
    assert _outbox(engine) == ("pending", "refused: not an acceptable webhook address")


@pytest.mark.parametrize("url", UNICODE_HOSTS[:2])  # those httpx refuses to send to
def test_a_stored_address_the_sender_cannot_read_is_a_failure_not_a_crash(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from listguard.propagation.transports.base import Endpoint, Message, TransportError

    # as if the check had let it through (an address stored by an older version)
    monkeypatch.setattr(netguard, "check_endpoint_url", lambda u, allow_private=None: u)
    webhook = WebhookTransport(timeout=5, allow_private=True)
    with pytest.raises(TransportError, match=r"^refused: not an acceptable webhook address$"):
        webhook.send(Endpoint("P1", "n", url, None, "s"), Message(1, "k", "P1", b"{}"), 0)
    webhook.close()


@contextmanager
def _dripping(head: bytes, drip: bytes) -> Iterator[int]:
    """A loopback endpoint that sends ``head`` then ``drip`` every 0.2 s, for 4 s (as
    long as it likes, were it not for a test's end)."""
    import socket
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(head)
                for _ in range(20):
                    if stop.is_set():
                        break
                    time.sleep(0.2)
                    conn.sendall(drip)
            except OSError:
                pass

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        listener.close()


@pytest.mark.parametrize(
    ("head", "drip", "outcome"),
    [
        # a success whose body never ends: the status decides, the body is not read
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n", b"x", None),
        (b"HTTP/1.1 503 Busy\r\nContent-Length: 100000000\r\n\r\n", b"x", "HTTP 503"),
        # headers that never end: the whole request is bounded, not each read
        (b"HTTP/1.1 200 OK\r\n", b"X-Slow: 1\r\n", "no answer in time"),
    ],
)
def test_an_endpoint_answering_byte_by_byte_holds_the_sender_no_longer_than_the_timeout(
    head: bytes, drip: bytes, outcome: str | None
) -> None:
    import time

    from listguard.propagation.transports.base import Endpoint, Message, TransportError

    with _dripping(head, drip) as port:
        webhook = WebhookTransport(timeout=1.0, allow_private=True)
        endpoint = Endpoint("P1", "n", f"http://127.0.0.1:{port}/h", None, "s")
        start = time.monotonic()
        try:
            webhook.send(endpoint, Message(1, "k", "P1", b"{}"), int(time.time()))
            error = None
        except TransportError as exc:
            error = str(exc)
        elapsed = time.monotonic() - start
        webhook.close()
        assert error == outcome
        assert elapsed < 2.5


def test_a_redirect_is_not_followed(
    engine: Engine, tmp_path: Path, hook: tuple[type[Hook], int], private_endpoints: None
) -> None:
    handler, port = hook
    inner: type[Hook] = type("Inner", (Hook,), {"received": []})
    server = HTTPServer(("127.0.0.1", 0), inner)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    handler.answer, handler.location = 307, f"http://127.0.0.1:{server.server_address[1]}/x"
    _holding(engine, tmp_path, f"http://127.0.0.1:{port}/h")
    webhook = WebhookTransport(timeout=5)
    report = run_once(engine, Transports(webhook=webhook))
    webhook.close()
    server.shutdown()
    server.server_close()
    assert (report.sent, len(handler.received), inner.received) == (0, 1, [])
    assert _outbox(engine) == ("pending", "HTTP 307: a redirect, not followed")


def test_the_error_kept_names_no_network_detail_and_the_partner_sees_none(
    site: Site, private_endpoints: None
) -> None:
    closed = httpx.URL(site.url).copy_with(port=1, path="/h")  # nothing listens there
    with site.engine.begin() as conn:
        conn.execute(text("UPDATE partners SET notify_url = :u"), {"u": str(closed)})
    record_opposition(site.engine, channel="email", contact_id="C1")
    webhook = WebhookTransport(timeout=5)
    run_once(site.engine, Transports(webhook=webhook))
    webhook.close()
    with site.engine.connect() as conn:
        errors = set(conn.execute(text("SELECT last_error FROM outbox")).scalars())
    assert errors == {"cannot connect"}  # not "[Errno 111] Connection refused"
    with site.client() as c:
        seen = c.get("/api/v1/partner/oppositions", headers={"Authorization": f"Bearer {site.p1}"})
    assert seen.status_code == 200 and seen.json()
    assert "connect" not in seen.text and "Errno" not in seen.text


def test_the_partner_side_posts_acknowledgements_only_to_public_addresses(
    engine: Engine, hook: tuple[type[Hook], int]
) -> None:
    """A partner running listguard posts to the link in the owner's message: not to
    its own machine or network."""
    import json

    from listguard.inbound import acknowledge_pending, add_source, receive
    from listguard.propagation.signing import sign
    from listguard.timeutil import now_ts

    handler, port = hook
    add_source(engine, "editions", "s" * 64)
    body = json.dumps(
        {
            "type": "opposition",
            "message_id": "lg-1-0123456789abcdef",
            "occurred_at": "2026-11-28T10:00:00Z",
            "channel": "email",
            "contacts": [{"contact_ref": "D1-1", "channel": "email", "coordinate": "a@b.fr"}],
            "ack_url": f"http://127.0.0.1:{port}/accuse-reception/lg-1?s=x",
        }
    ).encode()
    now = now_ts()
    receive(engine, "editions", body, sign("s" * 64, body, now), now)
    report = acknowledge_pending(engine)
    assert (report.acknowledged, report.failed) == (0, 1)
    assert report.errors and "refused" in report.errors[0]
    assert handler.received == []


@pytest.mark.parametrize("checked", [True, False])
def test_an_acknowledgement_link_the_sender_cannot_read_is_a_failure_not_a_crash(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, checked: bool
) -> None:
    import json

    from listguard.inbound import acknowledge_pending, add_source, receive
    from listguard.propagation.signing import sign
    from listguard.timeutil import now_ts

    if not checked:  # as if the check had let it through
        monkeypatch.setattr(netguard, "check_endpoint_url", lambda u, allow_private=None: u)
    add_source(engine, "editions", "s" * 64)
    now = now_ts()
    for n, url in enumerate(UNICODE_HOSTS):
        body = json.dumps(
            {
                "type": "opposition",
                "message_id": f"lg-{n + 1}-0123456789abcdef",
                "occurred_at": "2026-11-28T10:00:00Z",
                "channel": "email",
                "contacts": [{"contact_ref": "D1-1", "channel": "email", "coordinate": "a@b.fr"}],
                "ack_url": url + "accuse-reception",
            }
        ).encode()
        receive(engine, "editions", body, sign("s" * 64, body, now), now)
    report = acknowledge_pending(engine)
    assert (report.acknowledged, report.failed) == (0, len(UNICODE_HOSTS))
    assert report.errors and all("refused" in e for e in report.errors)


def _certificate(folder: Path, name: str) -> tuple[Path, Path]:
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
            "-addext", f"subjectAltName=DNS:{name}",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, cert


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificate")
def test_the_checked_address_is_used_and_tls_still_verifies_the_name(
    tmp_path: Path, hook: tuple[type[Hook], int]
) -> None:
    """The connection goes to the address checked, while the certificate is verified
    for the host name of the webhook address (and the Host header names it)."""
    key, cert = _certificate(tmp_path, "hook.example.com")
    handler: type[Hook] = type("Tls", (Hook,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    server.socket = served.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    trusted = ssl.create_default_context(cafile=str(cert))
    names = _names({"hook.example.com": ["127.0.0.1"], "other.example.com": ["127.0.0.1"]})
    transport = netguard.PinnedTransport(allow_private=True, resolver=names, verify=trusted)
    try:
        with httpx.Client(transport=_Wrapped(transport), trust_env=False) as client:
            done = client.post(f"https://hook.example.com:{port}/h", content=b"{}")
            assert done.status_code == 200
            assert handler.received[0]["Host"] == f"hook.example.com:{port}"
            with pytest.raises(httpx.ConnectError, match=r"certificate|hostname"):
                client.post(f"https://other.example.com:{port}/h", content=b"{}")
        assert len(handler.received) == 1
        refused = netguard.PinnedTransport(allow_private=False, resolver=names, verify=trusted)
        with (
            httpx.Client(transport=_Wrapped(refused), trust_env=False) as client,
            pytest.raises(NotPublic),
        ):
            client.post(f"https://hook.example.com:{port}/h", content=b"{}")
    finally:
        server.shutdown()
        server.server_close()


class _Wrapped(httpx.BaseTransport):
    def __init__(self, inner: netguard.PinnedTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificate")
def test_the_whole_request_is_bounded_over_tls_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket
    import time

    key, cert = _certificate(tmp_path, "hook.example.com")
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:  # headers a line at a time, for 8 s
        conn, _ = listener.accept()
        with served.wrap_socket(conn, server_side=True) as tls:
            tls.recv(65536)
            try:
                tls.sendall(b"HTTP/1.1 200 OK\r\n")
                for _ in range(40):
                    time.sleep(0.2)
                    tls.sendall(b"X-Slow: 1\r\n")
            except OSError:
                pass

    threading.Thread(target=serve, daemon=True).start()
    monkeypatch.setattr(netguard, "resolve", _names({"hook.example.com": ["127.0.0.1"]}))
    client = netguard.client(
        1.0, allow_private=True, verify=ssl.create_default_context(cafile=cert)
    )
    url = f"https://hook.example.com:{listener.getsockname()[1]}/h"
    start = time.monotonic()
    with pytest.raises(httpx.TimeoutException):
        netguard.post_status(client, client.build_request("POST", url, content=b"{}"), 1.0)
    assert time.monotonic() - start < 2.5
    client.close()
    listener.close()
