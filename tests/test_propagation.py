"""Oppositions travel to the partners that hold the person: outbox, webhooks, audit log."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from listguard.audit import verify
from listguard.errors import ListguardError
from listguard.imports import import_file
from listguard.oppositions import record_opposition
from listguard.propagation.acks import acknowledge
from listguard.propagation.messages import load_messages
from listguard.propagation.signing import SIGNATURE_HEADER, partner_secret, verify_signature
from listguard.propagation.transports.file_drop import FileDropTransport
from listguard.propagation.transports.routing import Transports
from listguard.propagation.transports.webhook import WebhookTransport
from listguard.propagation.worker import MAX_ATTEMPTS, run_once
from listguard.rights import erase, rectify
from listguard.timeutil import now_ts, today
from tests.scenario import Scenario, contact, partner, reasons_by_channel, write_csv


class Partner(BaseHTTPRequestHandler):
    """A partner's endpoint on loopback: records each request, answers from a script."""

    answers: list[int]
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        code = self.answers.pop(0) if self.answers else 200
        self.send_response(code)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint(private_endpoints: None) -> Iterator[type[Partner]]:
    handler = type("Handler", (Partner,), {"answers": [], "received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}/listguard"  # type: ignore[attr-defined]
    yield handler
    server.shutdown()
    server.server_close()


def _base(engine: Engine, tmp_path: Path, url: str = "") -> Scenario:
    sc = Scenario(
        engine,
        tmp_path,
        contacts=[
            contact("C1", email="c1@example.com"),
            contact(
                "C2",
                email="c2@example.com",
                mobile="",
                first_name="Jean",
                address_line4="3 rue Neuve",
            ),
        ],
        partners=[partner("P1", notify_url=url), partner("P2", notify_url=url)],
    )
    sc.load()
    sc.rent(partner="P1", channels=("email", "sms"), out="d1")
    sc.rent(partner="P2", channels=("postal",), out="d2")
    return sc


def _messages(engine: Engine) -> list[tuple[str, str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT o.partner_id, o.status, count(i.id) FROM outbox o "
                "JOIN outbox_items i ON i.message_id = o.id "
                "GROUP BY o.id, o.partner_id, o.status ORDER BY o.id"
            )
        ).all()
    return [(r[0], r[1], int(r[2])) for r in rows]


def test_an_opposition_reaches_exactly_the_partners_holding_a_covered_coordinate(
    any_engine: Engine, tmp_path: Path
) -> None:
    _base(any_engine, tmp_path)
    # email: only P1 received an email of C1 (P2 got postal addresses)
    email = record_opposition(any_engine, channel="email", contact_id="C1")
    assert (email.covered, email.messages) == (1, 1)
    assert _messages(any_engine) == [("P1", "pending", 1)]
    # every channel, named by the number: P1 (its sms) and P2 (its postal address)
    every = record_opposition(any_engine, channel="all", phone="06 12 34 56 78")
    assert every.messages == 2
    assert _messages(any_engine)[1:] == [("P1", "pending", 2), ("P2", "pending", 1)]
    # the owner's own prospecting only: nothing to forward
    assert record_opposition(any_engine, channel="all", contact_id="C2", scope="own").messages == 0
    # a partner-specific opposition goes to that partner only
    assert (
        record_opposition(any_engine, channel="all", contact_id="C2", scope="partner:P2").messages
        == 1
    )
    assert verify(any_engine).ok


def _delivered(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(text("SELECT count(*) FROM deliveries")).scalar_one(),
            conn.execute(text("SELECT count(*) FROM ledger")).scalar_one(),
        )


def test_an_opposition_recorded_while_an_order_is_decided_is_not_lost(
    any_engine: Engine, tmp_path: Path
) -> None:
    """An opposition recorded after the decision read the registry, but before the
    delivery is recorded, is forwarded to nobody by its own recording (the ledger does
    not hold the delivery yet): the delivery forwards it, in its own transaction, and
    delivers; a flow of oppositions never starves rentals."""
    sc = Scenario(
        any_engine,
        tmp_path,
        contacts=[contact("C1", email="c1@example.com"), contact("C2", email="c2@example.com")],
    )
    sc.load()
    day = today().isoformat()  # the opposition is dated now: the order is decided as of today

    def meanwhile(*events: Callable[[], object]) -> Callable[[str], None]:
        def step(message: str) -> None:
            if message == "recording the ledger":  # decided; nothing recorded yet
                for event in events:
                    event()

        return step

    # an opposition to a channel not rented covers nothing delivered: nothing to forward
    report, _rows = sc.rent(
        channels=("email",),
        as_of=day,
        out="d0",
        progress=meanwhile(lambda: record_opposition(any_engine, channel="sms", contact_id="C2")),
    )
    assert _delivered(any_engine) == (1, 2)
    assert (report.forwarded_meanwhile, report.covered_meanwhile) == (0, 0)
    # an opposition (and a rectification) covering delivered coordinates: delivered,
    # and both go to the partner under this delivery's references (the opposition is
    # also forwarded as it is recorded, for d0, which holds C1's email too)
    report, rows = sc.rent(
        channels=("email",),
        as_of=day,
        out="d1",
        progress=meanwhile(
            lambda: record_opposition(any_engine, channel="email", email="C1@example.com"),
            lambda: rectify(any_engine, "C2", {"last_name": "Martin"}),
        ),
    )
    assert _delivered(any_engine) == (2, 4)
    assert reasons_by_channel(rows, "C1") == {"email": ""}  # decided before it
    assert (report.forwarded_meanwhile, report.covered_meanwhile) == (2, 2)
    manifest = json.loads((tmp_path / "d1" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["forwarded"] == {
        "oppositions_dated_after_as_of": 0,
        "events_recorded_while_deciding": 2,
        "coordinates_they_cover": 2,
    }
    with any_engine.connect() as conn:
        queued = conn.execute(
            text(
                "SELECT o.partner_id, i.delivery_id, i.contact_ref, i.coordinate FROM outbox o "
                "JOIN outbox_items i ON i.message_id = o.id WHERE o.delivery_id = :d "
                "ORDER BY o.id"
            ),
            {"d": report.delivery_id},
        ).all()
        refs: dict[str, str] = {
            r[0]: r[1]
            for r in conn.execute(
                text("SELECT coordinate, contact_ref FROM ledger WHERE delivery_id = :d"),
                {"d": report.delivery_id},
            )
        }
    assert [tuple(r) for r in queued] == [
        ("P1", report.delivery_id, refs["c1@example.com"], "c1@example.com"),
        ("P1", report.delivery_id, refs["c2@example.com"], "c2@example.com"),
    ]
    # the same order again is decided with the opposition
    _report, rows = sc.rent(channels=("email",), as_of=day, out="d2")
    assert reasons_by_channel(rows, "C1") == {"email": "opposed"}
    assert reasons_by_channel(rows, "C2") == {"email": ""}
    # an erasure leaves nothing that names the person: any erasure refuses the delivery
    with pytest.raises(ListguardError, match="a person was erased"):
        sc.rent(
            channels=("email",),
            as_of=day,
            out="d3",
            progress=meanwhile(lambda: erase(any_engine, contact_id="C2")),
        )
    assert _delivered(any_engine) == (3, 5)
    assert not (tmp_path / "d3").exists()
    assert verify(any_engine).ok


def test_a_backdated_order_forwards_the_oppositions_it_leaves_out(
    any_engine: Engine, tmp_path: Path
) -> None:
    """An order decided as of a past day ignores the oppositions dated after it, so the
    file can hold coordinates they cover: those oppositions go to the partner with the
    delivery, in its transaction, once per partner."""
    import datetime as dt

    sc = Scenario(
        any_engine,
        tmp_path,
        contacts=[contact("C1", email="c1@example.com"), contact("C2", email="c2@example.com")],
    )
    sc.load()
    # received today: no partner holds C1 yet, so nothing is queued
    assert record_opposition(any_engine, channel="email", contact_id="C1").messages == 0
    # a rectification of today: the file holds the corrected address, nothing to forward
    assert rectify(any_engine, "C2", {"email": "c2.new@example.com"}).messages == 0
    yesterday = (today() - dt.timedelta(days=1)).isoformat()
    report, rows = sc.rent(channels=("email",), as_of=yesterday, out="d1")
    assert reasons_by_channel(rows, "C1") == {"email": ""}  # delivered: dated after as_of
    assert report.forwarded == 1
    assert _messages(any_engine) == [("P1", "pending", 1)]  # C1's email, under P1's ref
    with any_engine.connect() as conn:
        logged = conn.execute(
            text("SELECT detail FROM audit_log WHERE action = 'messages_queued'")
        ).scalars()
        assert [json.loads(d)["messages"] for d in logged] == [1]
        ref = conn.execute(
            text("SELECT contact_ref FROM ledger WHERE contact_id = 'C1' AND delivery_id = :d"),
            {"d": report.delivery_id},
        ).scalar_one()
        item = conn.execute(text("SELECT contact_ref, coordinate FROM outbox_items")).one()
    assert tuple(item) == (ref, "c1@example.com")
    # the same backdated order again: the partner holds C1 again, under a new reference,
    # and is told under that one (a message of that delivery's own)
    again, _rows = sc.rent(channels=("email",), as_of=yesterday, out="d2")
    assert again.forwarded == 1
    assert _messages(any_engine) == [("P1", "pending", 1), ("P1", "pending", 1)]
    with any_engine.connect() as conn:
        refs = conn.execute(
            text(
                "SELECT o.delivery_id, i.delivery_id, i.contact_ref FROM outbox o "
                "JOIN outbox_items i ON i.message_id = o.id ORDER BY o.id"
            )
        ).all()
    assert [(r[0], r[1]) for r in refs] == [
        (report.delivery_id, report.delivery_id),
        (again.delivery_id, again.delivery_id),
    ]
    assert refs[0][2] != refs[1][2]
    # decided as of today, the opposition excludes C1: nothing to forward
    now, rows = sc.rent(channels=("email",), as_of=today().isoformat(), out="d3")
    assert reasons_by_channel(rows, "C1") == {"email": "opposed"}
    assert now.forwarded == 0 and len(_messages(any_engine)) == 2
    assert verify(any_engine).ok


def test_oppositions_recorded_together_each_get_their_own_result(
    engine: Engine, tmp_path: Path
) -> None:
    from listguard.errors import InputError
    from listguard.oppositions import OppositionRequest, record_oppositions

    _base(engine, tmp_path)
    got = record_oppositions(
        engine,
        [
            OppositionRequest("email", contact_id="C1"),
            OppositionRequest("email", email="not an email"),
            OppositionRequest("fax", contact_id="C1"),
            OppositionRequest("all", phone="06 12 34 56 78"),
        ],
    )
    assert [type(g).__name__ for g in got] == ["Recorded", "InputError", "InputError", "Recorded"]
    assert isinstance(got[1], InputError) and "not a valid email" in str(got[1])
    # each its own count, though their messages were queued in one pass
    assert [(g.covered, g.messages) for g in got if not isinstance(g, InputError)] == [
        (1, 1),
        (1, 2),
    ]
    # the same messages as one at a time: P1 for C1's email, then P1 and P2 for the number
    assert _messages(engine) == [("P1", "pending", 1), ("P1", "pending", 2), ("P2", "pending", 1)]
    assert verify(engine).ok


def test_an_opposition_recorded_again_in_a_batch_queues_nothing_twice(
    engine: Engine, tmp_path: Path
) -> None:
    from listguard.oppositions import OppositionRequest, record_oppositions

    _base(engine, tmp_path)
    at = now_ts() - 60
    first = record_opposition(engine, channel="email", contact_id="C1", at=at)
    assert first.messages == 1
    assert record_opposition(engine, channel="all", contact_id="C2", scope="own").messages == 0
    # an event between them that is none of the batch's and was never queued (written
    # here without its messages): a batch that took the range of its events would queue it
    from listguard.oppositions import record_event
    from listguard.storage.engine import writing

    with writing(engine) as conn:
        keys = ("C2", None, None)
        record_event(conn, "opposition", channel="all", scope="all", via="api", keys=keys)
    # the same opposition again (its old event) beside a new one: not one range of events
    again, new = record_oppositions(
        engine,
        [
            OppositionRequest("email", contact_id="C1", at=at),
            OppositionRequest("all", phone="06 12 34 56 78"),
        ],
    )
    assert not isinstance(again, Exception) and not isinstance(new, Exception)
    assert (again.covered, again.messages, new.messages) == (1, 0, 2)
    assert _messages(engine) == [("P1", "pending", 1), ("P1", "pending", 2), ("P2", "pending", 1)]
    assert verify(engine).ok


def test_a_coordinate_delivered_before_the_contact_changed_it_is_still_forwarded(
    any_engine: Engine, tmp_path: Path
) -> None:
    from listguard.rights import access_report, erase

    _base(any_engine, tmp_path)
    # C1 changes email after P1 received the old one; then the old address objects
    moved = [contact("C1", email="c1.new@example.com")]
    import_file(any_engine, "contacts", write_csv(tmp_path / "moved.csv", moved))
    old = record_opposition(any_engine, channel="email", email="c1@example.com")
    assert (old.covered, old.messages) == (0, 1)
    with any_engine.connect() as conn:
        items = conn.execute(text("SELECT channel, coordinate FROM outbox_items")).all()
    assert [tuple(i) for i in items] == [("email", "c1@example.com")]
    # the person's access report shows that delivery, and erasure scrubs it
    report = access_report(any_engine, email="c1@example.com")
    assert [(d["partner_id"], d["coordinate"]) for d in report["deliveries"]] == [
        ("P1", "c1@example.com")
    ]
    erase(any_engine, email="c1@example.com")
    with any_engine.connect() as conn:
        left = conn.execute(
            text("SELECT count(*) FROM ledger WHERE coordinate = 'c1@example.com'")
        ).scalar_one()
    assert left == 0


def test_an_imported_opposition_is_queued_in_the_same_import(
    any_engine: Engine, tmp_path: Path
) -> None:
    _base(any_engine, tmp_path)
    events = [
        {
            "contact_id": "",
            "email": "C2@Example.com",
            "event": "opposition",
            "channel": "email",
            "at": "2026-11-29",
        },
        {
            "contact_id": "C1",
            "event": "consent",
            "channel": "email",
            "scope": "partners",
            "at": "2026-11-29",
        },
    ]
    report = import_file(any_engine, "events", write_csv(tmp_path / "ev.csv", events))
    assert report.rows_new == 2
    assert _messages(any_engine) == [("P1", "pending", 1)]


def test_the_worker_signs_retries_and_records_delivery(
    any_engine: Engine, tmp_path: Path, endpoint: type[Partner]
) -> None:
    url: str = endpoint.url  # type: ignore[attr-defined]
    _base(any_engine, tmp_path, url)
    record_opposition(any_engine, channel="email", contact_id="C1")
    endpoint.answers = [503]  # the partner is down at first
    webhook = WebhookTransport(timeout=5)
    transports = Transports(webhook=webhook)
    now = now_ts()
    first = run_once(any_engine, transports, now=now)
    assert (first.sent, first.retried) == (0, 1)
    assert run_once(any_engine, transports, now=now + 1).sent == 0  # not due yet
    later = run_once(any_engine, transports, now=now + 3600)
    webhook.close()
    assert later.sent == 1
    assert _messages(any_engine) == [("P1", "sent", 1)]
    (h1, b1), (h2, b2) = endpoint.received
    assert b1 == b2 and h1["Idempotency-Key"] == h2["Idempotency-Key"]
    with any_engine.begin() as conn:
        secret = partner_secret(conn, "P1")
    assert verify_signature(secret, h2[SIGNATURE_HEADER], b2, now + 3600)
    assert not verify_signature(secret, h2[SIGNATURE_HEADER], b2 + b" ", now + 3600)
    assert not verify_signature(secret, h2[SIGNATURE_HEADER], b2, now + 3600 + 301)
    payload = json.loads(b2)
    # the partner learns its own reference and the coordinate, never the owner's contact id
    assert b"C1" not in b2 and "C1" not in h2["Idempotency-Key"]
    assert payload["type"] == "opposition"
    assert [c["coordinate"] for c in payload["contacts"]] == ["c1@example.com"]
    assert payload["contacts"][0]["contact_ref"].startswith("D1-")
    assert acknowledge(any_engine, h2["Idempotency-Key"])
    assert not acknowledge(any_engine, "lg-1-forged")
    assert _messages(any_engine) == [("P1", "acknowledged", 1)]
    assert verify(any_engine).ok


def test_one_partner_s_unreadable_address_does_not_stop_the_round_for_others(
    any_engine: Engine, tmp_path: Path, endpoint: type[Partner]
) -> None:
    sc = Scenario(
        any_engine,
        tmp_path,
        contacts=[contact("C1", email="c1@example.com")],
        partners=[partner("P1"), partner("P2", notify_url=endpoint.url)],  # type: ignore[attr-defined]
    )
    sc.load()
    sc.rent(partner="P1", channels=("email",), out="d1")
    sc.rent(partner="P2", channels=("email",), out="d2")
    with any_engine.begin() as conn:  # stored as an older registry could hold it
        conn.execute(
            text("UPDATE partners SET notify_url = :u WHERE partner_id = 'P1'"),
            {"u": "https://\u24d4\u24e5\u24d8\u24db.com/"},
        )
    record_opposition(any_engine, channel="email", contact_id="C1")
    webhook = WebhookTransport(timeout=5)
    report = run_once(any_engine, Transports(webhook=webhook))
    webhook.close()
    assert (report.sent, report.retried) == (1, 1)
    assert len(endpoint.received) == 1
    with any_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT partner_id, status, last_error FROM outbox ORDER BY partner_id")
        ).all()
    assert [tuple(r) for r in rows] == [
        ("P1", "pending", "refused: not an acceptable webhook address"),
        ("P2", "sent", None),
    ]


def test_a_message_that_keeps_failing_is_parked_not_dropped(
    engine: Engine, tmp_path: Path, endpoint: type[Partner]
) -> None:
    _base(engine, tmp_path, endpoint.url)  # type: ignore[attr-defined]
    record_opposition(engine, channel="email", contact_id="C1")
    endpoint.answers = [500] * MAX_ATTEMPTS
    webhook = WebhookTransport(timeout=5)
    clock = now_ts()
    for _ in range(MAX_ATTEMPTS):
        run_once(engine, Transports(webhook=webhook), now=clock)
        clock += 10 * 3600  # past the longest backoff (6 h, times 1.5 at most)
    webhook.close()
    assert _messages(engine) == [("P1", "failed", 1)]
    with engine.connect() as conn:
        error = conn.execute(text("SELECT last_error FROM outbox")).scalar_one()
    assert "HTTP 500" in error


def test_file_drop_writes_one_csv_per_message(engine: Engine, tmp_path: Path) -> None:
    _base(engine, tmp_path)  # no webhook URL: the file drop serves both partners
    record_opposition(engine, channel="all", contact_id="C1")
    report = run_once(engine, Transports(file_drop=FileDropTransport(tmp_path / "drop")))
    assert report.sent == 2
    files = sorted(
        p.relative_to(tmp_path / "drop").parts[0] for p in (tmp_path / "drop").rglob("*.csv")
    )
    assert files == ["P1", "P2"]
    text_p2 = next((tmp_path / "drop" / "P2").glob("*.csv")).read_text("utf-8-sig")
    assert "postal" in text_p2 and "opposition" in text_p2


def test_audit_verify_finds_an_altered_or_removed_entry(engine: Engine, tmp_path: Path) -> None:
    _base(engine, tmp_path)
    for contact_id in ("C1", "C2"):
        record_opposition(engine, channel="all", contact_id=contact_id)
    assert verify(engine).ok and verify(engine).entries >= 4
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET detail = '{}' WHERE id = 2"))
    result = verify(engine)
    assert not result.ok and result.problem == "entry 2 was altered"
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 2"))
    assert verify(engine).problem == "entry 2 is missing (next is 3)"


@pytest.fixture
def smtp() -> Iterator[tuple[int, list[Any]]]:
    """A real SMTP server on loopback that keeps what it receives."""
    from aiosmtpd.controller import Controller

    received: list[Any] = []

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    with socket.socket() as probe:  # a free port (the controller checks it by connecting)
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, received
    controller.stop()


def test_partners_without_a_webhook_get_one_email_digest_per_interval(
    engine: Engine, tmp_path: Path, smtp: tuple[int, list[Any]]
) -> None:
    import email
    from email import policy

    from listguard.config import NotifySettings, Owner, Settings
    from listguard.propagation.transports.email_digest import EmailDigest

    port, received = smtp
    sc = Scenario(
        engine,
        tmp_path,
        contacts=[contact("C1", email="c1@example.com"), contact("C2", email="c2@example.com")],
        partners=[partner("P1", notify_email="dpo@partner.example")],
    )
    sc.load()
    sc.rent(partner="P1", channels=("email",), out="d1")
    record_opposition(engine, channel="email", contact_id="C1")
    record_opposition(engine, channel="email", contact_id="C2")
    settings = NotifySettings(
        smtp_host="127.0.0.1", smtp_port=port, sender="oppositions@owner.example"
    )
    owner = Owner(name="Éditions Exemple")
    transports = Transports(email=EmailDigest(Settings(owner=owner, notify=settings)))
    clock = now_ts()
    assert run_once(engine, transports, now=clock).sent == 2
    assert len(received) == 1  # both in one digest
    mail = email.message_from_bytes(received[0].content, policy=policy.default)
    assert received[0].rcpt_tos == ["dpo@partner.example"]
    attachment = next(mail.iter_attachments()).get_content()
    assert "c1@example.com" in attachment and "c2@example.com" in attachment
    # a third one within the hour waits for the next digest, then goes
    record_opposition(engine, channel="all", email="c1@example.com")
    assert run_once(engine, transports, now=clock + 60).sent == 0
    assert run_once(engine, transports, now=clock + 3600).sent == 1
    assert len(received) == 2
    assert _messages(engine) == [("P1", "sent", 1)] * 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[notify]\nsmtp_host = "mail.example"\n', "sender is required"),
        ('[notify]\nsmtp_port = "25"\n', "must be a whole number"),
        ("[notify]\nsmtp_starttls = 1\n", "must be true or false"),
        ("[notify]\nsmtp_pasword = 1\n", "unknown setting(s) smtp_pasword"),
        ("[engine]\nmemory_mb = 10\n", "memory_mb must be at least 64"),
        ("[engine]\nmax_pairs = 0\n", "max_pairs must be at least 1"),
        ('[engine]\nmemory_mb = "2GB"\n', "must be a whole number"),
    ],
)
def test_bad_email_settings_are_named(tmp_path: Path, body: str, message: str) -> None:
    from listguard.config import load_settings
    from listguard.errors import InputError

    path = tmp_path / "cfg.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(path)


def test_a_partner_down_then_back_gets_everything_in_order(
    engine: Engine, tmp_path: Path, endpoint: type[Partner]
) -> None:
    _base(engine, tmp_path, endpoint.url)  # type: ignore[attr-defined]
    for channel, scope in (("email", "all"), ("sms", "all"), ("email", "partner:P1")):
        record_opposition(engine, channel=channel, contact_id="C1", scope=scope)
    endpoint.answers = [503]
    webhook = WebhookTransport(timeout=5)
    clock = now_ts()
    first = run_once(engine, Transports(webhook=webhook), now=clock)
    assert (first.sent, first.retried) == (0, 1)
    assert len(endpoint.received) == 1  # the later messages were held, not tried
    # one more, before the retry is due: it does not overtake the waiting ones
    record_opposition(engine, channel="sms", contact_id="C1", scope="partner:P1", via="letter")
    assert run_once(engine, Transports(webhook=webhook), now=clock + 5).sent == 0
    # an hour later (by the clock, not by waiting) the partner answers again
    again = run_once(engine, Transports(webhook=webhook), now=clock + 3600)
    webhook.close()
    assert again.sent == 4
    keys = [h["Idempotency-Key"] for h, _ in endpoint.received]
    order = [int(k.split("-")[1]) for k in keys]
    assert order == [1, 1, 2, 3, 4]  # the failed first one again, then the others, in order
    assert [s for _, s, _ in _messages(engine)] == ["sent"] * 4


def test_the_running_worker_delivers_what_arrives_and_stops_when_told(
    engine: Engine, tmp_path: Path
) -> None:
    import time

    from listguard.propagation.worker import run_forever

    _base(engine, tmp_path)
    stop = threading.Event()
    transports = Transports(file_drop=FileDropTransport(tmp_path / "drop"))
    worker = threading.Thread(target=run_forever, args=(engine, transports, stop, 0.05))
    worker.start()
    try:
        record_opposition(engine, channel="email", contact_id="C1")
        deadline = time.monotonic() + 10
        while not list((tmp_path / "drop").rglob("*.csv")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()
    assert [p.parent.name for p in (tmp_path / "drop").rglob("*.csv")] == ["P1"]
    assert _messages(engine) == [("P1", "sent", 1)]


def test_a_worker_stopped_before_recording_sends_again_with_the_same_keys(
    engine: Engine, tmp_path: Path, endpoint: type[Partner], monkeypatch: pytest.MonkeyPatch
) -> None:
    import listguard.propagation.journal as sent_journal

    _base(engine, tmp_path, endpoint.url)  # type: ignore[attr-defined]
    for channel, scope in (("email", "all"), ("sms", "all")):
        record_opposition(engine, channel=channel, contact_id="C1", scope=scope)

    def killed(*args: Any) -> None:
        raise KeyboardInterrupt  # the process dies after sending, before recording

    webhook = WebhookTransport(timeout=5)
    with monkeypatch.context() as patch:
        patch.setattr(sent_journal, "record_sent", killed)
        with pytest.raises(KeyboardInterrupt):
            run_once(engine, Transports(webhook=webhook))
    assert len(endpoint.received) == 2
    assert [s for _, s, _ in _messages(engine)] == ["pending", "pending"]
    assert run_once(engine, Transports(webhook=webhook)).sent == 2  # the restarted worker
    keys = [h["Idempotency-Key"] for h, _ in endpoint.received]
    assert keys[:2] == keys[2:]  # the repeats carry the same keys: harmless to the partner
    for key in set(keys):
        assert acknowledge(engine, key)
    assert run_once(engine, Transports(webhook=webhook)).sent == 0  # nothing acknowledged again
    webhook.close()
    assert len(endpoint.received) == 4


def test_a_worker_dying_midway_through_a_round_keeps_what_it_sent(
    engine: Engine, tmp_path: Path, endpoint: type[Partner]
) -> None:
    """The messages sent before the worker died are recorded as sent: the restarted
    worker sends only the others (a round is no longer recorded only at its end)."""
    _base(engine, tmp_path, endpoint.url)  # type: ignore[attr-defined]
    # five distinct instants: a clock read in each turn could give two the same second
    # (an opposition already recorded, so one message fewer) when the loop crosses one
    start = now_ts()
    for i in range(5):
        record_opposition(engine, channel="email", contact_id="C1", at=start - i)
    webhook = WebhookTransport(timeout=5)

    class Dying:
        name = "webhook"
        calls = 0

        def send(self, endpoint: Any, message: Any, now: int) -> None:
            Dying.calls += 1
            if Dying.calls == 4:
                raise KeyboardInterrupt  # the process dies while sending the fourth
            webhook.send(endpoint, message, now)

    with pytest.raises(KeyboardInterrupt):
        run_once(engine, Transports(webhook=Dying()))
    assert [s for _, s, _ in _messages(engine)] == ["sent"] * 3 + ["pending"] * 2
    assert run_once(engine, Transports(webhook=webhook)).sent == 2
    webhook.close()
    keys = [h["Idempotency-Key"] for h, _ in endpoint.received]
    assert len(keys) == len(set(keys)) == 5  # nothing sent twice
    assert verify(engine).ok


def test_sent_messages_are_recorded_while_the_round_goes_on(
    engine: Engine, tmp_path: Path, endpoint: type[Partner]
) -> None:
    """A worker killed outright (no chance to record anything more) sends again only
    the last fraction of a second's messages: the others are recorded already."""
    import time

    _base(engine, tmp_path, endpoint.url)  # type: ignore[attr-defined]
    # five distinct instants: a clock read in each turn could give two the same second
    # (an opposition already recorded, so one message fewer) when the loop crosses one
    start = now_ts()
    for i in range(5):
        record_opposition(engine, channel="email", contact_id="C1", at=start - i)
    webhook = WebhookTransport(timeout=5)
    seen: list[int] = []

    class Watching:
        name = "webhook"

        def send(self, endpoint: Any, message: Any, now: int) -> None:
            if len(endpoint_calls) == 4:  # the fifth: are the first four recorded by now?
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    sent = [s for _, s, _ in _messages(engine)].count("sent")
                    if sent == 4:
                        break
                    time.sleep(0.05)
                seen.append(sent)
            endpoint_calls.append(message.id)
            webhook.send(endpoint, message, now)

    endpoint_calls: list[int] = []
    assert run_once(engine, Transports(webhook=Watching())).sent == 5
    webhook.close()
    assert seen == [4]
    assert [s for _, s, _ in _messages(engine)] == ["sent"] * 5


def test_a_worker_killed_mid_run_loses_nothing_and_repeats_nothing_acknowledged(
    engine: Engine, tmp_path: Path, private_endpoints: None
) -> None:
    """The real worker process, killed with SIGKILL while partners answer slowly, then
    restarted: every message arrives; none arrives again once acknowledged."""
    import os
    import signal
    import subprocess
    import sys
    import time

    acked: set[str] = set()
    received: list[str] = []
    violations: list[str] = []
    lock = threading.Lock()

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            key = self.headers["Idempotency-Key"]
            with lock:
                if key in acked:
                    violations.append(key)
                received.append(key)
                n = len(received)
            time.sleep(0.05)
            if n % 2:  # every other message is acknowledged at once, through the owner
                assert acknowledge(engine, key)
                with lock:
                    acked.add(key)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    _base(engine, tmp_path, url)
    now = now_ts()
    for i in range(30):
        record_opposition(engine, channel="all", contact_id="C1", at=now - i)
    with engine.connect() as conn:
        queued = conn.execute(text("SELECT count(*) FROM outbox")).scalar_one()
    assert queued == 60  # P1 and P2 each hold a coordinate of C1
    db = f"sqlite:///{tmp_path / 'registry.db'}"
    config = tmp_path / "loopback.toml"  # the partners listen on loopback
    config.write_text("[propagation]\nallow_private_endpoints = true\n", encoding="utf-8")
    command = [sys.executable, "-m", "listguard", "--db", db, "--config", str(config)]
    command += ["worker", "--poll", "0.1"]
    worker = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(received) < 12 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        problems = worker.stderr.read().decode() if worker.stderr else ""
        if worker.stderr:
            worker.stderr.close()
    assert len(received) >= 12, problems
    assert len(set(received)) < 60  # killed mid-run
    restarted = subprocess.run(
        [*command[:-3], "worker", "--once"], capture_output=True, text=True, timeout=120
    )
    assert restarted.returncode == 0, restarted.stderr
    for _ in range(5):  # rounds of up to 1,000; retries are not due yet
        if _messages(engine) and all(s != "pending" for _, s, _ in _messages(engine)):
            break
        subprocess.run([*command[:-3], "worker", "--once"], capture_output=True, timeout=120)
    server.shutdown()
    server.server_close()
    with engine.connect() as conn:
        keys = {
            m.key
            for m in load_messages(
                conn, [int(i) for i in conn.execute(text("SELECT id FROM outbox")).scalars()]
            ).values()
        }
    assert set(received) == keys  # everything delivered
    assert violations == []  # nothing sent again after its acknowledgement
    assert {s for _, s, _ in _messages(engine)} <= {"sent", "acknowledged"}
    assert verify(engine).ok


def test_a_letter_written_without_ligatures_reaches_the_contact_written_with_them(
    engine: Engine, tmp_path: Path
) -> None:
    """Sacré-Cœur and SACRE COEUR are one address, Lætitia and Laetitia one name: the
    opposition covers the contact, and nobody is put on the suppression list instead."""
    from listguard.oppositions import PostalAddress, record_postal_opposition

    row = contact("C1", first_name="Lætitia", address_line4="1 rue du Sacré-Cœur")
    import_file(engine, "contacts", write_csv(tmp_path / "c.csv", [row]))
    letter = PostalAddress("EXEMPLE", "1 RUE DU SACRE COEUR", "75002", "PARIS", "Laetitia")
    assert record_postal_opposition(engine, letter).covered == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM suppressions")).scalar_one() == 0
