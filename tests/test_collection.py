"""The collection kit: a form's submission recorded with its proof through the API, in
a shape the rules accept, and the form fragment that asks each channel the lawful way."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import text

from listguard.audit import verify
from listguard.collection import choices_from_form, form_fragment
from listguard.config import Settings
from listguard.rights import access_report, erase
from tests.scenario import Scenario, reasons_by_channel
from tests.web_server import Site

SUBMITTED = "2026-11-20T10:15:00+01:00"


def _body(key: str = "form-0001-abcdef", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "idempotency_key": key,
        "person": {
            "contact_id": "W1",
            "first_name": "Léa",
            "last_name": "Morel",
            "address_line4": "8 rue des Lilas",
            "postal_code": "69003",
            "city": "Lyon",
            "email": "Lea.Morel@Example.com",
            "mobile": "06 11 22 33 44",
        },
        "choices": {"partners_email": "consent", "partners_postal": "informed"},
        "notice_version": "v7-2026",
        "notice_sha256": "ab" * 32,
        "partner_list_version": 1,
        "collected_at": SUBMITTED,
        "collection_source": "https://editions.example.com/abonnement",
        "ip": "203.0.113.9",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
    }
    body.update(over)
    return body


def test_a_form_submission_is_recorded_once_with_its_proof_and_the_rules_accept_it(
    site: Site,
) -> None:
    machine = {"Authorization": f"Bearer {site.machine}"}
    with site.client() as c:
        first = c.post("/api/v1/collections", json=_body(), headers=machine)
        assert first.status_code == 201, first.text
        assert first.json()["outcome"] == "created"
        # the same form posted again (a retry) is one record
        again = c.post("/api/v1/collections", json=_body(), headers=machine)
        assert again.json() == {**first.json(), "outcome": "replayed"}
        # the key of another submission is refused, and records nothing
        other = _body(choices={"partners_email": "objection"})
        assert c.post("/api/v1/collections", json=other, headers=machine).status_code == 409
        refused = {
            "bad choice": _body("k-bad-choice", choices={"partners_email": "yes"}),
            "unknown channel": _body("k-bad-channel", choices={"partners_fax": "consent"}),
            "list never published": _body("k-bad-list", partner_list_version=99),
            "in the future": _body("k-future", collected_at="2031-01-01T00:00:00Z"),
            "no offset": _body("k-naive", collected_at="2026-11-20T10:15:00"),
            "not an ip": _body("k-ip", ip="localhost"),
            "no contact id": _body("k-no-id", person={"email": "x@example.com"}),
        }
        for why, body in refused.items():
            got = c.post("/api/v1/collections", json=body, headers=machine)
            assert got.status_code in (400, 422), (why, got.status_code, got.text)
        assert c.post("/api/v1/collections", json=_body("k-anon")).status_code == 401
        p1 = {"Authorization": f"Bearer {site.p1}"}
        assert c.post("/api/v1/collections", json=_body("k-p1"), headers=p1).status_code == 403
    with site.engine.connect() as conn:
        proofs = conn.execute(text("SELECT * FROM collection_proofs")).mappings().all()
        contact = (
            conn.execute(text("SELECT * FROM contacts WHERE contact_id = 'W1'")).mappings().one()
        )
    assert len(proofs) == 1
    proof = proofs[0]
    assert proof["ip"] == "203.0.113.9" and proof["notice_sha256"] == "ab" * 32
    assert proof["partner_list_version"] == 1 and proof["notice_version"] == "v7-2026"
    assert proof["collected_at"] == int(dt.datetime.fromisoformat(SUBMITTED).timestamp())
    # normalised as an import would, with the choices at collection
    assert contact["email_norm"] == "lea.morel@example.com"
    assert contact["mobile_e164"] == "+33611223344"
    assert contact["partners_email"] == "consent" and contact["partners_postal"] == "informed"
    assert contact["notice_version"] == "v7-2026"
    # the rules accept it: P1 (listed before) may receive the email and the address
    _report, rows = Scenario(site.engine, site.tmp).rent(
        channels=("postal", "email", "sms"), out="rented"
    )
    reasons = reasons_by_channel(rows, "W1")
    assert reasons["email"] == "" and reasons["postal"] == ""
    assert reasons["sms"] == "no_consent"  # the box was not ticked
    # the person's data and its proof are in the access report; erasure removes both
    report = access_report(site.engine, contact_id="W1")
    assert report["contacts"][0]["collections"][0]["ip"] == "203.0.113.9"
    erase(site.engine, contact_id="W1")
    with site.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM collection_proofs")).scalar_one() == 0


def test_a_later_form_of_a_person_already_held_records_events(site: Site) -> None:
    machine = {"Authorization": f"Bearer {site.machine}"}
    body = _body(
        "form-0002-later",
        person={"contact_id": "C1"},
        choices={"partners_postal": "objection", "own_email": "consent", "own_postal": "informed"},
    )
    with site.client() as c:
        got = c.post("/api/v1/collections", json=body, headers=machine)
    assert got.status_code == 201 and got.json()["outcome"] == "events"
    with site.engine.connect() as conn:
        events = conn.execute(
            text(
                "SELECT event, channel, scope, via FROM events WHERE contact_id = 'C1' ORDER BY id"
            )
        ).all()
    assert [tuple(e) for e in events] == [
        ("consent", "email", "own", "web_form"),
        ("opposition", "postal", "partners", "web_form"),
    ]
    _report, rows = Scenario(site.engine, site.tmp).rent(channels=("postal",), out="later")
    assert reasons_by_channel(rows, "C1")["postal"] == "opposed"


def test_the_form_fragment_asks_each_channel_the_lawful_way() -> None:
    settings = Settings()
    fragment, digest = form_fragment(
        settings,
        ["postal", "phone", "email"],
        as_of=dt.date(2026, 11, 28),
        partner_list_version=4,
        notice_version="v7",
    )
    boxes = re.findall(
        r'<input type="checkbox" id="[^"]+" name="([a-z_]+)" value="(\w+)">', fragment
    )
    # a distinct box for the owner and for its partners, none ticked
    assert boxes == [
        ("own_postal", "objection"),
        ("partners_postal", "objection"),
        ("own_phone", "consent"),  # calls to consumers need consent since 2026-08-11
        ("partners_phone", "consent"),
        ("own_email", "consent"),
        ("partners_email", "consent"),
    ]
    assert "checked" not in fragment
    assert "/partenaires" in fragment and "/opposition" in fragment
    assert f'name="lg_notice_sha256" value="{digest}"' in fragment
    assert 'name="lg_partner_list_version" value="4"' in fragment
    # every box has its label (accessible)
    assert fragment.count("<label for=") == len(boxes)
    # before 2026-08-11, informing was enough for calls
    before, _ = form_fragment(settings, ["phone"], as_of=dt.date(2026, 5, 1))
    assert 'name="partners_phone" value="objection"' in before
    # what a posted form means: an unticked opt-out box is "informed"; an unticked
    # opt-in box is no consent
    posted = {"partners_postal": "objection", "own_email": "consent"}
    assert choices_from_form(
        posted, ["postal", "email"], settings, as_of=dt.date(2026, 11, 28)
    ) == {"own_postal": "informed", "partners_postal": "objection", "own_email": "consent"}


def test_the_command_prints_the_fragment(tmp_path: Path) -> None:
    from tests.test_cli import ok, user_error

    ok(tmp_path, "init")
    said = ok(tmp_path, "collection-form", "--channel", "email", "--channel", "postal")
    assert 'name="partners_email" value="consent"' in said
    ok(tmp_path, "collection-form", "--channel", "sms", "--out", "form.html")
    assert 'name="partners_sms"' in (tmp_path / "form.html").read_text(encoding="utf-8")
    assert "fax" in user_error(tmp_path, "collection-form", "--channel", "fax")


def test_collections_recorded_together_each_get_their_own_outcome(site: Site) -> None:
    from listguard.collection import Collection, ConflictError, record_collections
    from listguard.errors import InputError

    def one(key: str, cid: str, **over: Any) -> Collection:
        fields: dict[str, Any] = {
            "idempotency_key": key,
            "contact": {"contact_id": cid, "last_name": "Morel", "email": f"{cid}@example.com"},
            "choices": {"partners_email": "consent"},
            "notice_version": "v7",
        }
        fields.update(over)
        return Collection(**fields)

    batch = [
        one("k-1-abcdef", "N1"),
        one("k-2-abcdef", "N2", contact={"contact_id": "N2", "birth_date": "31/02/1990"}),
        one("k-1-abcdef", "N1"),  # the same form twice: a retry
        one("k-3-abcdef", "N3"),
        one("k-3-abcdef", "N3", choices={"partners_email": "objection"}),  # the key reused
        one("k-4-abcdef", "C1", choices={"partners_sms": "objection"}),  # held: an event
        one("k-5-abcdef", "N1", choices={"partners_sms": "consent"}),  # N1 again, new key
    ]
    got = record_collections(site.engine, batch)
    assert [type(g).__name__ for g in got] == [
        "Collected",
        "InputError",
        "Collected",
        "Collected",
        "ConflictError",
        "Collected",
        "Collected",
    ]
    assert isinstance(got[1], InputError) and got[1].where == "birth_date"
    assert isinstance(got[4], ConflictError)
    outcomes = [g.outcome for g in got if not isinstance(g, InputError)]
    assert outcomes == ["created", "replayed", "created", "events", "events"]
    with site.engine.connect() as conn:
        contacts = (
            conn.execute(
                text("SELECT contact_id FROM contacts WHERE contact_id LIKE 'N%' ORDER BY 1")
            )
            .scalars()
            .all()
        )
        proofs = conn.execute(text("SELECT count(*) FROM collection_proofs")).scalar_one()
        events = conn.execute(
            text("SELECT contact_id, event, channel FROM events ORDER BY id")
        ).all()
    assert contacts == ["N1", "N3"] and proofs == 4
    assert [tuple(e) for e in events] == [("C1", "opposition", "sms"), ("N1", "consent", "sms")]
    # each proof's audit entry names that proof, in a chain that stays whole
    from listguard.identifiers import subjects

    proof_ids = [g.proof_id for g in got if not isinstance(g, InputError)]
    with site.engine.connect() as conn:
        audited = conn.execute(
            text("SELECT subject, detail FROM audit_log WHERE action = 'collection' ORDER BY id")
        ).all()
        named = subjects(conn)  # the log names a person by keyed digest, never in clear
        expected = [named(c) for c in ("N1", "N3", "C1", "N1")]
    assert [(a[0], json.loads(a[1])["proof"]) for a in audited] == [
        (expected[0], proof_ids[0]),
        (expected[1], proof_ids[2]),
        (expected[2], proof_ids[3]),
        (expected[3], proof_ids[4]),
    ]
    assert verify(site.engine).ok


def test_concurrent_submissions_through_the_server(site: Site) -> None:
    from concurrent.futures import ThreadPoolExecutor

    machine = {"Authorization": f"Bearer {site.machine}"}

    def post(n: int) -> int:
        body = _body(f"form-concurrent-{n:04d}", person={"contact_id": f"K{n}"})
        if n == 7:
            body["person"]["birth_date"] = "not a date"
        with site.client() as c:
            return c.post("/api/v1/collections", json=body, headers=machine).status_code

    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(post, range(48)))
    assert codes.count(201) == 47 and codes[7] == 400
    with site.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM collection_proofs")).scalar_one() == 47
