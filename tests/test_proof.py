"""The proof of a person's consents (R223-2): its facts, its PDF, how a person obtains it
without an account, and the phone consents about to lapse."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from sqlalchemy import Engine, text

from listguard.collection import Collection, record_collection
from listguard.config import Owner, RuleSettings, Settings, WebSettings
from listguard.errors import InputError
from listguard.proof import (
    UnknownPerson,
    expiring_consents,
    gather,
    json_sha256,
    proof_dict,
    proof_json,
    proof_pdf,
)
from listguard.proof.access import (
    CODE_ATTEMPTS,
    check_code,
    forget_codes,
    proof_link,
    read_link_token,
    send_code,
)
from listguard.rights import access_report, access_text, erase
from listguard.timeutil import PARIS, now_ts, to_day
from listguard.tokens import token_bytes
from tests.scenario import Scenario, contact, listguard, partner

NOW = int(dt.datetime(2026, 11, 28, 12, 0, tzinfo=PARIS).timestamp())
FORM_AT = int(dt.datetime(2025, 12, 20, 10, 15, tzinfo=PARIS).timestamp())
HASH = "ab" * 32
SETTINGS = Settings(
    owner=Owner(
        name="Éditions Exemple",
        legal_name="Éditions Exemple SAS",
        address="1 rue de l'Exemple, 75001 Paris",
        rights_contact="dpo@editions.example.com",
    ),
    web=WebSettings(public_url="https://donnees.example.com"),
)
NO_CHOICE = {f"partners_{ch}": "" for ch in ("phone", "automated_call", "sms", "email")}


def _person(engine: Engine, tmp_path: Path) -> None:
    """C1: consent to partners by email and an objection to the owner's SMS at
    collection (imported), a phone consent on a form later (near its maximum age), and
    an opposition to partners' emails by letter. C9: somebody else."""
    Scenario(
        engine,
        tmp_path,
        contacts=[
            contact(
                "C1",
                **{**NO_CHOICE, "partners_email": "consent"},
                collected_at="2025-06-01",
                own_sms="objection",
                notice_version="v3",
                collection_source="salon-2025",
            ),
            contact("C9", email="other@example.com", mobile="06 99 99 99 99"),
        ],
        partners=[
            partner("P1"),
            partner("P2", name="Voyages Sud", category="voyages", listed_from="2026-01-01"),
        ],
        events=[
            {
                "contact_id": "C1",
                "event": "opposition",
                "channel": "email",
                "scope": "partners",
                "at": "2026-03-01T09:30:00+01:00",
                "via": "letter",
            }
        ],
    ).load()
    record_collection(
        engine,
        Collection(
            idempotency_key="form-c1-phone",
            contact={"contact_id": "C1"},
            choices={"partners_phone": "consent"},
            notice_version="v7-2025",
            collected_at=FORM_AT,
            notice_sha256=HASH,
            partner_list_version=1,
            collection_source="https://editions.example.com/abonnement",
            ip="203.0.113.9",
            user_agent="Mozilla/5.0 (X11; Linux x86_64)",
        ),
    )


P1 = {"version": 1, "partners": [{"id": "P1", "name": "Partenaire P1", "category": "vins"}]}


def test_the_proof_lists_each_consent_and_objection_with_what_was_shown(
    any_engine: Engine, tmp_path: Path
) -> None:
    _person(any_engine, tmp_path)
    proof = gather(any_engine, SETTINGS, email="Marie.Exemple@Example.com", now=NOW)
    data = json.loads(proof_json(proof))
    assert data["document"] == "consent_proof" and data["format"] == 1
    assert data["issued_at"] == "2026-11-28T12:00:00+01:00"
    assert data["owner"] == {
        "name": "Éditions Exemple",
        "legal_name": "Éditions Exemple SAS",
        "address": "1 rue de l'Exemple, 75001 Paris",
    }
    assert data["person"] == {
        "contact_id": None,
        "email": "marie.exemple@example.com",
        "phone": None,
    }
    assert data["contacts"] == ["C1"]  # nothing about anybody else
    assert "C9" not in proof_json(proof) and "other@example.com" not in proof_json(proof)
    assert data["phone_consent_max_age_days"] == 365
    assert data["withdrawal"] == {
        "rights_contact": "dpo@editions.example.com",
        "opposition_page": "https://donnees.example.com/opposition",
        "privacy_policy_url": None,
    }
    objection, imported, form, opposition = data["choices"]
    collected = {
        "given_at": "2025-06-01T00:00:00+02:00",
        "source": "collection",
        "contact_id": "C1",
        "via": None,
        "collection_source": "salon-2025",
        "notice_version": "v3",
        "notice_sha256": None,
        "ip": None,
        "user_agent": None,
        "valid_until": None,
    }
    assert objection == {
        "kind": "objection",
        "channel": "sms",
        "scope": "own",
        "partner_list": None,
        **collected,
    }
    # an imported consent: the partner list in force that day (P2 joined later)
    assert imported == {
        "kind": "consent",
        "channel": "email",
        "scope": "partners",
        "partner_list": {**P1, "recorded": False},
        **collected,
    }
    # a consent on a form: its evidence, and the last day it counts (never renewed)
    assert form == {
        "kind": "consent",
        "channel": "phone",
        "scope": "partners",
        "given_at": "2025-12-20T10:15:00+01:00",
        "source": "event",
        "contact_id": "C1",
        "via": "web_form",
        "collection_source": "https://editions.example.com/abonnement",
        "notice_version": "v7-2025",
        "notice_sha256": HASH,
        "ip": "203.0.113.9",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "partner_list": {**P1, "recorded": True},
        "valid_until": "2026-12-20",
    }
    assert opposition == {
        "kind": "opposition",
        "channel": "email",
        "scope": "partners",
        "given_at": "2026-03-01T09:30:00+01:00",
        "source": "event",
        "contact_id": "C1",
        "via": "letter",
        "collection_source": None,
        "notice_version": None,
        "notice_sha256": None,
        "ip": None,
        "user_agent": None,
        "partner_list": None,
        "valid_until": None,
    }
    # the person named by contact id or number gets the same choices
    by_id = gather(any_engine, SETTINGS, contact_id="C1", now=NOW)
    by_phone = gather(any_engine, SETTINGS, phone="+33 6 12 34 56 78", now=NOW)
    assert by_id.choices == by_phone.choices == proof.choices
    # the request is in the audit log, the person named by digest only
    with any_engine.connect() as conn:
        logged = conn.execute(
            text("SELECT subject, detail FROM audit_log WHERE action = 'consent_proof'")
        ).all()
    assert len(logged) == 3 and all("marie" not in str(row) for row in logged)


def test_a_person_collected_through_a_form_gets_the_forms_evidence_on_each_choice(
    engine: Engine, tmp_path: Path
) -> None:
    Scenario(engine, tmp_path, contacts=[], partners=[partner("P1")]).load()
    record_collection(
        engine,
        Collection(
            idempotency_key="form-w1",
            contact={"contact_id": "W1", "last_name": "Morel", "email": "lea@example.com"},
            choices={"partners_email": "consent", "own_phone": "consent", "own_sms": "objection"},
            notice_version="v7-2025",
            collected_at=FORM_AT,
            notice_sha256=HASH,
            ip="2001:db8::1",
        ),
    )
    proof = gather(engine, SETTINGS, email="lea@example.com", now=NOW)
    assert [(c.kind, c.scope, c.channel) for c in proof.choices] == [
        ("consent", "own", "phone"),
        ("objection", "own", "sms"),
        ("consent", "partners", "email"),
    ]
    assert all(
        (c.source, c.notice_version, c.notice_sha256, c.ip, c.given_at)
        == ("collection", "v7-2025", HASH, "2001:db8::1", "2025-12-20T10:15:00+01:00")
        for c in proof.choices
    )
    own_phone, objection, partners_email = proof.choices
    assert own_phone.partner_list is None and own_phone.valid_until == "2026-12-20"
    assert objection.partner_list is None and objection.valid_until is None
    assert partners_email.valid_until is None
    assert partners_email.partner_list is not None
    # the form recorded no partner list version: the one in force then is given
    assert not partners_email.partner_list.recorded
    assert [p.id for p in partners_email.partner_list.partners] == ["P1"]


def test_the_json_is_stable_and_before_the_maximum_age_law_no_expiry_is_given(
    engine: Engine, tmp_path: Path
) -> None:
    _person(engine, tmp_path)
    one = proof_json(gather(engine, SETTINGS, contact_id="C1", now=NOW))
    assert one == proof_json(gather(engine, SETTINGS, contact_id="C1", now=NOW))
    assert list(json.loads(one)) == [
        "document",
        "format",
        "issued_at",
        "owner",
        "person",
        "contacts",
        "phone_consent_max_age_days",
        "choices",
        "withdrawal",
    ]
    before = int(dt.datetime(2026, 8, 1, tzinfo=PARIS).timestamp())
    early = gather(engine, SETTINGS, contact_id="C1", now=before)
    assert early.phone_consent_max_age_days is None
    assert all(c.valid_until is None for c in early.choices)


def test_an_unknown_or_erased_person_gets_no_document(engine: Engine, tmp_path: Path) -> None:
    _person(engine, tmp_path)
    with pytest.raises(UnknownPerson, match="no person held"):
        gather(engine, SETTINGS, email="nobody@example.com", now=NOW)
    with pytest.raises(InputError, match="not a valid email"):
        gather(engine, SETTINGS, email="not-an-email", now=NOW)
    erase(engine, contact_id="C1")
    for named in ({"contact_id": "C1"}, {"email": "marie.exemple@example.com"}):
        with pytest.raises(UnknownPerson):
            gather(engine, SETTINGS, now=NOW, **named)
    assert gather(engine, SETTINGS, contact_id="C9", now=NOW).contacts == ("C9",)


def _render(pdf: bytes) -> tuple[str, int, int]:
    """(text of the first page, its dark pixels, its pixels) as a viewer renders it."""
    document = pdfium.PdfDocument(pdf)
    assert len(document) >= 1
    page = document[0]
    found = page.get_textpage().get_text_range()
    image = page.render(scale=1).to_pil().convert("L")
    histogram = image.histogram()  # pixels by grey level, 0 black to 255 white
    document.close()
    return found, sum(histogram[:128]), sum(histogram)


def test_the_pdf_opens_and_carries_the_facts_and_the_json_hash(
    engine: Engine, tmp_path: Path
) -> None:
    _person(engine, tmp_path)
    proof = gather(engine, SETTINGS, contact_id="C1", now=NOW)
    json_text = proof_json(proof)
    pdf = proof_pdf(proof, json_text)
    assert pdf.startswith(b"%PDF-")
    found, dark, total = _render(pdf)
    assert 0.005 < dark / total < 0.5  # printed, not blank
    assert "Preuve de vos consentements" in found
    assert "Éditions Exemple SAS" in found and "28/11/2026" in found
    assert "marie.exemple@example.com" not in found  # the person was named by contact id
    everything = "".join(_all_text(pdf))
    assert HASH in everything  # the notice's hash, on one line
    assert "jusqu'au 20/12/2026" in everything
    assert hashlib.sha256(json_text.encode()).hexdigest() == json_sha256(json_text)
    assert json_sha256(json_text) in everything
    by_email = gather(engine, SETTINGS, email="marie.exemple@example.com", now=NOW)
    assert "marie.exemple@example.com" in _render(proof_pdf(by_email, proof_json(by_email)))[0]
    # the same facts issued at the same instant make the same file
    assert proof_pdf(proof, json_text) == pdf


def _all_text(pdf: bytes) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    found = [page.get_textpage().get_text_range() for page in document]
    document.close()
    return found


def test_a_character_the_pdf_font_lacks_is_transcribed_and_listed_never_dropped(
    engine: Engine, tmp_path: Path
) -> None:
    _person(engine, tmp_path)
    owner = Owner(name="Łódź Éditions", legal_name="Łódź Éditions 中文 SA")
    proof = gather(engine, Settings(owner=owner), contact_id="C1", now=NOW)
    assert proof_dict(proof)["owner"]["legal_name"] == "Łódź Éditions 中文 SA"
    everything = " ".join(" ".join(_all_text(proof_pdf(proof, proof_json(proof)))).split())
    assert "Lódz Éditions <U+4E2D><U+6587> SA" in everything
    assert "U+0141 -> L" in everything and "U+4E2D -> <U+4E2D>" in everything
    assert "fait foi" in everything


# --- obtaining the proof without an account ---------------------------------------


def test_a_signed_link_names_the_person_until_it_expires(engine: Engine, tmp_path: Path) -> None:
    _person(engine, tmp_path)
    token = proof_link(engine, " Marie.Exemple@Example.com", now=NOW)
    assert token is not None
    assert b"marie" not in token_bytes(token.split(".")[0])  # sealed, not the address
    with engine.connect() as conn:
        person = read_link_token(conn, token, now=NOW + 6 * 86400)
        assert person is not None and person.email == "marie.exemple@example.com"
        assert read_link_token(conn, token, now=NOW + 7 * 86400) is None  # expired
        email, expiry, signature = token.split(".")
        flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
        other = proof_link(engine, "other@example.com", now=NOW)
        assert other is not None
        for altered in (
            f"{email}.{expiry}.{flipped}",
            f"{email}.{int(expiry) + 86400}.{signature}",  # a longer life
            f"{other.split('.')[0]}.{expiry}.{signature}",  # another person
            f"{email}.{expiry}",
            "é.1.x",
            "",
        ):
            assert read_link_token(conn, altered, now=NOW) is None
    # an address nobody holds gets no link, and the caller answers the same
    assert proof_link(engine, "nobody@example.com", now=NOW) is None
    with pytest.raises(InputError):
        proof_link(engine, "not-an-email", now=NOW)


class FakeSms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, number: str, body: str) -> None:
        self.sent.append((number, body))


def _code(sms: FakeSms) -> str:
    body = sms.sent[-1][1]
    digits = [w for w in body.replace(":", " ").split() if w.isdigit() and len(w) == 6]
    assert len(digits) == 1, body
    return digits[0]


def test_a_code_by_sms_works_once_within_ten_minutes_and_five_attempts(
    engine: Engine, tmp_path: Path
) -> None:
    _person(engine, tmp_path)
    sms = FakeSms()
    send_code(engine, "06 12 34 56 78", sms, now=NOW)
    assert [n for n, _ in sms.sent] == ["+33612345678"]
    code = _code(sms)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(CODE_ATTEMPTS - 1):
        assert check_code(engine, "+33612345678", wrong, now=NOW + 60) is None
    person = check_code(engine, "06 12 34 56 78", code, now=NOW + 60)  # the fifth attempt
    assert person is not None and person.phone == "+33612345678"
    assert check_code(engine, "06 12 34 56 78", code, now=NOW + 61) is None  # used once
    # a sixth attempt is refused even with the right code
    send_code(engine, "06 12 34 56 78", sms, now=NOW)
    code = _code(sms)
    for _ in range(CODE_ATTEMPTS):
        assert check_code(engine, "06 12 34 56 78", "000000x", now=NOW + 60) is None
    assert check_code(engine, "06 12 34 56 78", code, now=NOW + 60) is None
    # expired after 10 minutes; only the latest code counts
    send_code(engine, "06 12 34 56 78", sms, now=NOW)
    first = _code(sms)
    send_code(engine, "06 12 34 56 78", sms, now=NOW)
    latest = _code(sms)
    if first != latest:
        assert check_code(engine, "06 12 34 56 78", first, now=NOW + 60) is None
    assert check_code(engine, "06 12 34 56 78", latest, now=NOW + 600) is None
    # the registry holds neither the number nor the code in clear
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT * FROM proof_codes")).all()
    assert stored and all("612345678" not in str(r) and latest not in str(r) for r in stored)
    assert forget_codes(engine, now=NOW + 2 * 86400) == len(stored)


def test_a_code_for_an_unknown_number_is_stored_alike_and_sent_nowhere(
    engine: Engine, tmp_path: Path
) -> None:
    _person(engine, tmp_path)
    sms = FakeSms()

    def count() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM proof_codes")).scalar_one())

    send_code(engine, "06 00 00 00 01", sms, now=NOW)
    assert sms.sent == [] and count() == 1
    send_code(engine, "06 12 34 56 78", sms, now=NOW)
    assert len(sms.sent) == 1 and count() == 2
    assert check_code(engine, "06 00 00 00 01", "123456", now=NOW) is None
    assert check_code(engine, "not a number", "123456", now=NOW) is None
    with pytest.raises(InputError):
        send_code(engine, "not a number", sms, now=NOW)


# --- phone consents about to lapse ---------------------------------------------------


def test_expiring_phone_consents(any_engine: Engine, tmp_path: Path) -> None:
    def person(cid: str, mobile: str, collected: str, phone: str = "consent") -> dict[str, str]:
        return contact(
            cid,
            **{**NO_CHOICE, "partners_phone": phone, "partners_automated_call": "consent"},
            email=f"{cid.lower()}@example.com",
            mobile=mobile,
            collected_at=collected,
        )

    Scenario(
        any_engine,
        tmp_path,
        contacts=[
            person("C1", "06 10 00 00 01", "2025-12-01"),  # lapses after 2026-12-01
            person("C2", "06 10 00 00 02", "2025-12-05"),  # opposed since, by number
            person("C3", "06 10 00 00 03", "2025-11-20"),  # lapsed already
            person("C4", "06 10 00 00 04", "2025-12-10"),  # consent given again, by email
            person("C5", "06 10 00 00 05", "2025-12-27"),  # the last day of the window
            person("C6", "06 10 00 00 06", "2025-12-28"),  # one day past it
            person("C7", "06 10 00 00 07", "2025-12-15", phone="informed"),
            person("C8", "06 10 00 00 08", "2025-06-01", phone=""),  # consent by event
        ],
        events=[
            {"phone": "06 10 00 00 02", "event": "opposition", "at": "2026-02-01"},
            {
                "email": "c4@example.com",
                "event": "consent",
                "channel": "phone",
                "scope": "partners",
                "at": "2026-06-01",
            },
            {
                "contact_id": "C8",
                "event": "consent",
                "channel": "phone",
                "scope": "partners",
                "at": "2025-12-12T18:00:00+01:00",
            },
            {  # a consent to one partner only is not the consent to partners
                "contact_id": "C7",
                "event": "consent",
                "channel": "phone",
                "scope": "partner:P1",
                "at": "2025-12-16",
            },
        ],
    ).load()
    found = expiring_consents(any_engine, SETTINGS.rules, dt.date(2026, 11, 28), 30)
    assert [(e.contact_id, e.channel, e.valid_until.isoformat()) for e in found] == [
        ("C1", "phone", "2026-12-01"),
        ("C8", "phone", "2026-12-12"),
        ("C5", "phone", "2026-12-27"),
    ]
    assert dataclasses.asdict(found[0]) == {
        "contact_id": "C1",
        "channel": "phone",
        "consent_at": "2025-12-01T00:00:00+01:00",
        "valid_until": dt.date(2026, 12, 1),
        "phone": None,
        "mobile": "+33610000001",
        "email": "c1@example.com",
    }
    assert found[1].consent_at == "2025-12-12T18:00:00+01:00"
    one_day = expiring_consents(any_engine, SETTINGS.rules, dt.date(2026, 12, 1), 1)
    assert [e.contact_id for e in one_day] == ["C1"]
    # before fr-2026, and with the maximum age switched off, nothing lapses
    assert expiring_consents(any_engine, SETTINGS.rules, dt.date(2026, 7, 1), 30) == []
    off = dataclasses.replace(SETTINGS.rules, phone_consent_max_age_days=0)
    assert expiring_consents(any_engine, off, dt.date(2026, 11, 28), 30) == []
    with pytest.raises(InputError, match="at least 1"):
        expiring_consents(any_engine, SETTINGS.rules, dt.date(2026, 11, 28), 0)


def test_the_access_report_gives_each_phone_consent_its_last_day(
    any_engine: Engine, tmp_path: Path
) -> None:
    today = to_day(now_ts())  # the access report is made today
    collected, given = today - dt.timedelta(days=100), today - dt.timedelta(days=10)
    consent = {"contact_id": "C1", "event": "consent", "scope": "partners"}
    Scenario(
        any_engine,
        tmp_path,
        contacts=[
            contact(
                "C1",
                **{**NO_CHOICE, "partners_phone": "consent", "partners_email": "consent"},
                collected_at=collected.isoformat(),
            )
        ],
        events=[
            {**consent, "channel": "phone", "at": given.isoformat()},
            {**consent, "channel": "email", "at": given.isoformat()},
        ],
    ).load()
    report = access_report(any_engine, contact_id="C1", rules=SETTINGS.rules)
    first = (collected + dt.timedelta(days=365)).isoformat()
    again = (given + dt.timedelta(days=365)).isoformat()
    assert report["contacts"][0]["consents_valid_until"] == {"partners_phone": first}
    assert [(e["channel"], e.get("valid_until")) for e in report["events"]] == [
        ("phone", again),
        ("email", None),
    ]
    # the same last days as the consent proof's
    proof = gather(any_engine, SETTINGS, contact_id="C1")
    assert sorted(c.valid_until for c in proof.choices if c.valid_until) == [first, again]
    text = access_text(report, "Éditions Exemple")
    assert f"(partners_phone) valable jusqu'au {first}" in text
    assert f"(phone), valable jusqu'au {again}" in text
    # with the maximum age switched off, no consent lapses
    off = dataclasses.replace(SETTINGS.rules, phone_consent_max_age_days=0)
    quiet = access_report(any_engine, contact_id="C1", rules=off)
    assert quiet["contacts"][0]["consents_valid_until"] == {}
    assert all("valid_until" not in e for e in quiet["events"])


def test_rights_proof_writes_the_pdf_and_its_json_and_refuses_an_unknown_person(
    engine: Engine, tmp_path: Path
) -> None:
    _person(engine, tmp_path)
    registry = Path(str(engine.url.database))
    done = listguard(registry, tmp_path, "rights", "proof", "--contact", "C1", "--out", "c1.pdf")
    assert done.returncode == 0, done.stderr
    pdf, beside = (tmp_path / "c1.pdf").read_bytes(), (tmp_path / "c1.json").read_text("utf-8")
    assert json.loads(beside)["choices"] and json_sha256(beside) in "".join(_all_text(pdf))
    found, dark, _total = _render(pdf)
    assert (dark > 0 and "C1" in found) or "marie.exemple@example.com" in found

    unknown = listguard(
        registry, tmp_path, "rights", "proof", "--email", "nobody@example.com", "--out", "x.pdf"
    )
    assert unknown.returncode == 1 and "no person held" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    assert not (tmp_path / "x.pdf").exists() and not (tmp_path / "x.json").exists()
    wrong = listguard(registry, tmp_path, "rights", "proof", "--contact", "C1", "--out", "c1.txt")
    assert wrong.returncode == 1 and ".pdf" in wrong.stderr


def test_consents_expiring_lists_the_phone_consents_about_to_lapse(
    engine: Engine, tmp_path: Path
) -> None:
    _person(engine, tmp_path)  # C1's phone consent of 2025-12-20 lapses after 2026-12-20
    registry = Path(str(engine.url.database))
    args = ("consents", "expiring", "--as-of", "2026-12-01")
    near = listguard(registry, tmp_path, *args, "--within", "30", "--out", "lapsing.csv")
    assert near.returncode == 0, near.stderr
    rows = (tmp_path / "lapsing.csv").read_text("utf-8-sig").splitlines()
    assert rows[0].startswith("contact_id;channel;consent_at;valid_until")
    assert [r.split(";")[:2] for r in rows[1:]] == [["C1", "phone"]]
    far = listguard(registry, tmp_path, *args, "--within", "5")
    assert far.returncode == 0 and "0 consent(s)" in far.stdout
    bad = listguard(registry, tmp_path, *args, "--within", "0")
    assert bad.returncode == 1 and "--within" in bad.stderr


def test_expiring_consents_of_some_contacts_read_only_theirs(
    any_engine: Engine, tmp_path: Path
) -> None:
    _person(any_engine, tmp_path)  # C1's phone consent of 2025-12-20 lapses within the window
    day, rules = dt.date(2026, 12, 1), RuleSettings()
    everyone = expiring_consents(any_engine, rules, day, 30)
    assert [e.contact_id for e in everyone] == ["C1"]
    assert expiring_consents(any_engine, rules, day, 30, contact_ids=["C1"]) == everyone
    assert expiring_consents(any_engine, rules, day, 30, contact_ids=["C9"]) == []
    assert expiring_consents(any_engine, rules, day, 30, contact_ids=[]) == []
