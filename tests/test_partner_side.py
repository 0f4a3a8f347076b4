"""Partners change their endpoint, acknowledge by signed link, and run listguard to
receive the owner's messages: through real servers on loopback, one per registry."""

from __future__ import annotations

import csv
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from sqlalchemy import Engine, text

from listguard.audit import verify
from listguard.inbound import add_source, receive
from listguard.oppositions import record_opposition
from listguard.propagation.acks import acknowledge
from listguard.propagation.messages import load_messages
from listguard.propagation.signing import SIGNATURE_HEADER, sign
from listguard.propagation.transports.file_drop import FileDropTransport
from listguard.propagation.transports.routing import Transports
from listguard.propagation.transports.tabular import coordinate_hash
from listguard.propagation.transports.webhook import WebhookTransport
from listguard.propagation.worker import run_once
from listguard.rights import erase
from listguard.storage.engine import make_engine
from listguard.timeutil import now_ts
from listguard.web.app import create_app
from tests.web_server import Site, serving, web_settings


@pytest.fixture
def partner_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """The partner's own registry (a second one, on its own file)."""
    path = tmp_path / "partner" / "registry.db"
    path.parent.mkdir()
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def _statuses(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [
            (r[0], r[1])
            for r in conn.execute(text("SELECT partner_id, status FROM outbox ORDER BY id"))
        ]


def _oppose_c1_email(site: Site) -> None:
    record_opposition(site.engine, channel="email", scope="all", email="c1@example.com")


def test_a_partner_changes_its_endpoint_through_the_api(site: Site) -> None:
    auth = {"Authorization": f"Bearer {site.p1}"}
    with site.client() as c:
        first = c.get("/api/v1/partner/endpoint", headers=auth).json()
        assert first["notify_url"] is None and first["file_identifiers"] == "clear"
        assert len(first["signing_secret"]) == 64
        bad = c.put(
            "/api/v1/partner/endpoint", headers=auth, json={"notify_url": "ftp://x.example"}
        )
        assert bad.status_code == 400 and "https://" in bad.json()["detail"]
        assert (
            c.put(
                "/api/v1/partner/endpoint", headers=auth, json={"notify_email": "not an address"}
            ).status_code
            == 400
        )
        done = c.put(
            "/api/v1/partner/endpoint",
            headers=auth,
            json={"notify_url": "https://crm.p1.example/hook", "file_identifiers": "hashed"},
        ).json()
        assert done["notify_url"] == "https://crm.p1.example/hook"
        assert done["file_identifiers"] == "hashed"
        assert done["signing_secret"] == first["signing_secret"]
        # a field left out stays; another partner's endpoint is untouched
        again = c.put(
            "/api/v1/partner/endpoint", headers=auth, json={"notify_email": "Ops@P1.example"}
        ).json()
        assert again["notify_url"] == "https://crm.p1.example/hook"
        assert again["notify_email"] == "ops@p1.example"
        other = c.get(
            "/api/v1/partner/endpoint", headers={"Authorization": f"Bearer {site.p2}"}
        ).json()
        assert other["notify_url"] is None and other["signing_secret"] != first["signing_secret"]
    with site.engine.connect() as conn:
        versions = conn.execute(
            text("SELECT version, notify_url FROM partner_versions WHERE partner_id = 'P1'")
        ).all()
        current = conn.execute(
            text("SELECT version, import_id FROM partners WHERE partner_id = 'P1'")
        ).one()
        logged = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'partner_endpoint'")
        ).scalar_one()
    assert [v.notify_url for v in versions] == [None, "https://crm.p1.example/hook"]
    assert (current.version, current.import_id) == (3, None)
    assert logged == 2
    assert verify(site.engine).ok


def test_a_partner_that_asked_for_hashes_gets_no_coordinate_in_file_drops(
    site: Site, tmp_path: Path
) -> None:
    with site.client() as c:
        secret = c.put(
            "/api/v1/partner/endpoint",
            headers={"Authorization": f"Bearer {site.p1}"},
            json={"file_identifiers": "hashed"},
        ).json()["signing_secret"]
    _oppose_c1_email(site)
    record_opposition(site.engine, channel="postal", scope="all", contact_id="C2")
    assert run_once(site.engine, Transports(file_drop=FileDropTransport(tmp_path / "drop"))).sent
    hashed = (next((tmp_path / "drop" / "P1").glob("*.csv"))).read_text(encoding="utf-8-sig")
    assert "c1@example.com" not in hashed
    rows = list(csv.DictReader(hashed.splitlines(), delimiter=";"))
    assert rows[0]["coordinate_sha256"] == coordinate_hash(secret, "c1@example.com")
    clear = (next((tmp_path / "drop" / "P2").glob("*.csv"))).read_text(encoding="utf-8-sig")
    assert "3 RUE NEUVE" in clear.upper()  # P2 chose nothing: clear coordinates


def test_acknowledgement_by_signed_link(site: Site) -> None:
    _oppose_c1_email(site)

    class Sink:
        name = "webhook"
        bodies: ClassVar[list[bytes]] = []

        def send(self, endpoint: object, message: object, now: int) -> None:
            self.bodies.append(message.body)  # type: ignore[attr-defined]

    sink = Sink()
    run_once(site.engine, Transports(webhook=sink, ack_base=site.url))
    # P1 has no URL: the sink is only tried for partners reached by webhook
    assert sink.bodies == []
    with site.engine.begin() as conn:
        conn.execute(text("UPDATE partners SET notify_url = 'https://p1.example/h'"))
    run_once(site.engine, Transports(webhook=sink, ack_base=site.url))
    link = json.loads(sink.bodies[0])["ack_url"]
    key = json.loads(sink.bodies[0])["message_id"]
    assert link.startswith(f"{site.url}/accuse-reception/{key}?s=")
    path = link.removeprefix(site.url)
    with site.client() as c:
        page = c.get(path)  # following the link acknowledges nothing
        assert page.status_code == 200 and 'method="post"' in page.text
        assert _statuses(site.engine) == [("P1", "sent")]
        forged = c.post(path[:-4] + "abcd", headers={"Accept": "application/json"})
        assert forged.status_code == 404
        other = c.post(path.replace(key, key[:-1] + ("1" if key.endswith("0") else "0")))
        assert other.status_code == 404
        assert _statuses(site.engine) == [("P1", "sent")]
        done = c.post(path, headers={"Accept": "application/json"})
        assert done.status_code == 200 and done.json() == {"acknowledged": True}
        assert c.post(path).status_code == 200  # again: still acknowledged, a page
    assert _statuses(site.engine) == [("P1", "acknowledged")]


def test_an_acknowledgement_during_the_send_is_not_undone(site: Site) -> None:
    """The partner may acknowledge before the worker records the send."""
    _oppose_c1_email(site)
    with site.engine.begin() as conn:
        conn.execute(text("UPDATE partners SET notify_url = 'https://p1.example/h'"))

    class AcksAtOnce:
        name = "webhook"

        def send(self, endpoint: object, message: object, now: int) -> None:
            assert acknowledge(site.engine, message.key)  # type: ignore[attr-defined]

    assert run_once(site.engine, Transports(webhook=AcksAtOnce())).sent == 1
    assert _statuses(site.engine) == [("P1", "acknowledged")]


def test_the_partner_side_receives_applies_and_acknowledges(
    site: Site, partner_engine: Engine, tmp_path: Path, private_endpoints: None
) -> None:
    # the partner's own listguard, on its own registry, serving its inbound route
    with site.client() as c:
        secret = c.get(
            "/api/v1/partner/endpoint", headers={"Authorization": f"Bearer {site.p1}"}
        ).json()["signing_secret"]
    assert add_source(partner_engine, "editions", secret) == "opposition:editions"
    partner_app = create_app(partner_engine, web_settings(tmp_path / "partner"))
    with serving(partner_app) as partner_url:
        with site.client() as c:
            c.put(
                "/api/v1/partner/endpoint",
                headers={"Authorization": f"Bearer {site.p1}"},
                json={"notify_url": f"{partner_url}/api/v1/inbound/editions"},
            )
        _oppose_c1_email(site)
        record_opposition(site.engine, channel="sms", scope="all", contact_id="C1")
        webhook = WebhookTransport()
        try:
            report = run_once(site.engine, Transports(webhook=webhook, ack_base=site.url))
        finally:
            webhook.close()
        assert (report.sent, report.errors) == (2, [])

        # the acknowledgements go in the background, after the answers; the owner
        # records one before the partner's side records that it was accepted
        def received() -> list[tuple[object, ...]]:
            with partner_engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT type, acked_at IS NOT NULL FROM inbound_messages")
                ).all()
            return [tuple(r) for r in rows]

        for _ in range(200):
            if (
                _statuses(site.engine) == [("P1", "acknowledged")] * 2
                and received() == [("opposition", True)] * 2
            ):
                break
            time.sleep(0.05)
        assert _statuses(site.engine) == [("P1", "acknowledged")] * 2
        with partner_engine.connect() as conn:
            entries = conn.execute(
                text("SELECT list, kind, value FROM suppressions ORDER BY kind")
            ).all()
        assert [tuple(e) for e in entries] == [
            ("opposition:editions", "email", "c1@example.com"),
            ("opposition:editions", "phone", "+33612345678"),
        ]
        assert received() == [("opposition", True)] * 2
        # forged, stale, malformed, unknown source: refused, nothing changes, counted
        body = b'{"message_id": "lg-9-x", "type": "opposition", "contacts": []}'
        with httpx.Client(base_url=partner_url) as c:
            now = now_ts()
            cases = {
                "forged": (sign("not the key at all", body, now), body, 401),
                "stale": (sign(secret, body, now - 3600), body, 401),
                "malformed": (sign(secret, b"[1]", now), b"[1]", 400),
            }
            for header, content, status in cases.values():
                got = c.post(
                    "/api/v1/inbound/editions",
                    content=content,
                    headers={SIGNATURE_HEADER: header, "Content-Type": "application/json"},
                )
                assert got.status_code == status, got.text
            assert c.post("/api/v1/inbound/nobody", content=body).status_code == 404
    with partner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM inbound_messages")).scalar_one() == 2
        counted: dict[str, int] = dict(
            conn.execute(text("SELECT reason, sum(count) FROM refusals GROUP BY reason")).all()
        )
    assert counted == {"bad_signature": 2, "malformed_body": 1, "unknown_source": 1}
    assert verify(partner_engine).ok


def test_the_partner_side_applies_a_message_once_and_erases_the_person(
    partner_engine: Engine,
) -> None:
    add_source(partner_engine, "editions", "k" * 32)
    record_opposition(partner_engine, channel="email", scope="own", email="x@example.com")
    message = {
        "message_id": "lg-1-abc",
        "type": "erasure",
        "contacts": [{"contact_ref": "D1-1", "channel": "email", "coordinate": "x@example.com"}],
    }
    body = json.dumps(message).encode()
    now = now_ts()
    first = receive(partner_engine, "editions", body, sign("k" * 32, body, now), now)
    again = receive(partner_engine, "editions", body, sign("k" * 32, body, now), now)
    assert (first.applied, first.repeat, again.repeat) == (1, False, True)
    with partner_engine.connect() as conn:
        left = conn.execute(
            text("SELECT count(*) FROM events WHERE email_norm = 'x@example.com'")
        ).scalar_one()
        kept = conn.execute(text("SELECT count(*) FROM suppressions")).scalar_one()
        digests = conn.execute(text("SELECT count(*) FROM erased")).scalar_one()
    assert (left, kept) == (0, 0)  # nothing of the person stays in clear
    assert digests >= 1


def test_an_acknowledged_erasure_clears_the_coordinate_from_earlier_messages(
    site: Site,
) -> None:
    _oppose_c1_email(site)  # a message to P1 with c1@example.com, never acknowledged
    erase(site.engine, contact_id="C1")
    with site.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, partner_id FROM outbox ORDER BY id")).all()
        messages = load_messages(conn, [int(r.id) for r in rows])
    # an opposition then an erasure for P1 (email, sms); an erasure for P2 (postal)
    assert [r.partner_id for r in rows] == ["P1", "P1", "P2"]
    assert acknowledge(site.engine, messages[int(rows[1].id)].key)  # P1's erasure
    with site.engine.connect() as conn:
        left = conn.execute(
            text(
                "SELECT o.partner_id, i.coordinate FROM outbox_items i "
                "JOIN outbox o ON o.id = i.message_id ORDER BY o.id, i.channel"
            )
        ).all()
    assert [r.coordinate for r in left if r.partner_id == "P1"] == ["erased"] * 3
    # P2 has not acted on its erasure yet: it still needs the address
    assert [r.coordinate != "erased" for r in left if r.partner_id == "P2"] == [True]


def test_refused_inputs_are_counted_and_shown_in_the_back_office(site: Site) -> None:
    from tests.test_web import _sign_in

    with site.client() as c:
        assert c.get("/api/v1/partner/deliveries").status_code == 401
        assert (
            c.get(
                "/api/v1/partner/deliveries", headers={"Authorization": "Bearer lg_nope"}
            ).status_code
            == 401
        )
        assert c.get("/desinscription/forged").status_code == 404
        stop = c.post(
            "/api/v1/sms/stop",
            headers={"Authorization": f"Bearer {site.machine}"},
            json={"from": "+33612345678", "text": "Merci beaucoup"},
        )
        assert stop.json() == {"stopped": False, "messages": 0}
        site.web.refusals.flush()
        _sign_in(c)
        board = c.get("/admin").text
    # the reasons in words
    assert "lien de désinscription non valide" in board
    assert "réponse SMS qui n&#39;est pas un STOP" in board
    with site.engine.connect() as conn:
        counted: dict[str, int] = dict(
            conn.execute(text("SELECT reason, sum(count) FROM refusals GROUP BY reason")).all()
        )
    assert counted["no_api_key"] == 1 and counted["bad_api_key"] == 1
    assert counted["bad_unsubscribe_link"] == 1 and counted["not_a_stop_word"] == 1


def test_a_received_erasure_that_fails_is_not_recorded_so_a_resend_erases(
    partner_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import listguard.rights

    add_source(partner_engine, "editions", "k" * 32)
    record_opposition(partner_engine, channel="email", scope="own", email="x@example.com")
    message = {
        "message_id": "lg-2-abc",
        "type": "erasure",
        "contacts": [{"contact_ref": "D1-1", "channel": "email", "coordinate": "x@example.com"}],
    }
    body = json.dumps(message).encode()
    now = now_ts()

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("crash while erasing")

    with monkeypatch.context() as patched:
        patched.setattr(listguard.rights, "erase_events", crash)
        with pytest.raises(RuntimeError):
            receive(partner_engine, "editions", body, sign("k" * 32, body, now), now)
    with partner_engine.connect() as conn:
        recorded = conn.execute(text("SELECT count(*) FROM inbound_messages")).scalar_one()
    assert recorded == 0  # so that the owner's resend is applied, not taken as a repeat
    again = receive(partner_engine, "editions", body, sign("k" * 32, body, now), now)
    assert (again.repeat, again.applied) == (False, 1)
    with partner_engine.connect() as conn:
        left = conn.execute(
            text("SELECT count(*) FROM events WHERE email_norm = 'x@example.com'")
        ).scalar_one()
    assert left == 0


def test_a_received_erasure_clears_the_person_from_rectifications_received(
    partner_engine: Engine,
) -> None:
    add_source(partner_engine, "editions", "k" * 32)
    now = now_ts()

    def send(message: dict[str, object]) -> None:
        body = json.dumps(message).encode()
        assert not receive(partner_engine, "editions", body, sign("k" * 32, body, now), now).repeat

    send(
        {
            "message_id": "lg-3-abc",
            "type": "rectification",
            "contacts": [
                {
                    "contact_ref": "D1-1",
                    "channel": "email",
                    "coordinate": "x@example.com",
                    "corrected": {"email": "marie.durand@example.com", "last_name": "Durand"},
                },
                {
                    "contact_ref": "D1-2",
                    "channel": "postal",
                    "coordinate": "3 rue Neuve, 75001 Paris",
                    "corrected": {"last_name": "Martin"},
                },
            ],
        }
    )
    send(
        {
            "message_id": "lg-4-abc",
            "type": "erasure",
            "contacts": [
                {"contact_ref": "D1-1", "channel": "email", "coordinate": "x@example.com"}
            ],
        }
    )
    with partner_engine.connect() as conn:
        body = conn.execute(
            text("SELECT body FROM inbound_messages WHERE message_key = 'lg-3-abc'")
        ).scalar_one()
    for erased in ("x@example.com", "marie.durand", "Durand", "D1-1"):
        assert erased not in (body or "")
    assert "Martin" in body  # another person's correction stays, to be applied
