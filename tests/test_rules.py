"""The reason-code table of ``shared/spec/rules.md``, case by case, on both rule packs.

Each case changes one thing in a contact that may otherwise be rented on every
channel, and states the reasons expected on each channel under ``fr-2016``
(delivery 2026-06-15) and ``fr-2026`` (delivery 2026-11-28). Channels not named
are expected eligible. Every case runs through the real imports and renting, on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from listguard.config import RuleSettings
from tests.scenario import ALL_CHANNELS, Scenario, contact, partner, reasons_by_channel

PACKS = {"fr-2016": "2026-06-15", "fr-2026": "2026-11-28"}
OK_SCREENINGS = [
    (dt.date(2026, 6, 12), {"0612345678": "OK"}),
    (dt.date(2026, 11, 25), {"0612345678": "OK"}),
]


@dataclass
class Case:
    id: str
    fr2016: dict[str, str]
    fr2026: dict[str, str]
    contact: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    partners: list[dict[str, Any]] | None = None
    suppression: list[dict[str, Any]] = field(default_factory=list)
    screenings: list[tuple[dt.date, dict[str, str]]] | None = None
    order: dict[str, Any] = field(default_factory=dict)
    no_row: bool = False  # the contact yields no decision row at all (an erased person)


def opposition(**over: Any) -> dict[str, Any]:
    row = {
        "contact_id": "C1",
        "event": "opposition",
        "channel": "all",
        "scope": "partners",
        "at": "2026-03-01",
        "via": "web_form",
    }
    row.update(over)
    return row


OPT_IN = ("automated_call", "sms", "email")
CASES = [
    Case("eligible on every channel", {}, {}),
    Case(
        "missing_coordinate: no email",
        {"email": "missing_coordinate"},
        {"email": "missing_coordinate"},
        contact={"email": ""},
    ),
    Case(
        "missing_coordinate: no address at all",
        {"postal": "missing_coordinate"},
        {"postal": "missing_coordinate"},
        contact={"address_line4": "", "postal_code": "", "city": ""},
    ),
    Case(
        "missing_coordinate stands alone even with an opposition",
        {
            "email": "missing_coordinate",
            **dict.fromkeys(("postal", "phone", "automated_call", "sms"), "opposed"),
        },
        {
            "email": "missing_coordinate",
            **dict.fromkeys(("postal", "phone", "automated_call", "sms"), "opposed"),
        },
        contact={"email": ""},
        events=[opposition()],
    ),
    Case(
        "invalid_coordinate with a person-level reason",
        {"email": "invalid_coordinate|no_consent"},
        {"email": "invalid_coordinate|no_consent"},
        contact={"email": "marie.exemple@", "partners_email": ""},
    ),
    Case(
        "invalid_coordinate: postal code that does not exist",
        {"postal": "invalid_coordinate"},
        {"postal": "invalid_coordinate"},
        contact={"postal_code": "99999"},
    ),
    Case(
        "invalid number skips Bloctel and line type",
        {c: "invalid_coordinate|opposed" for c in ("phone", "automated_call", "sms")}
        | {"postal": "opposed", "email": "opposed"},
        {c: "invalid_coordinate|opposed" for c in ("phone", "automated_call", "sms")}
        | {"postal": "opposed", "email": "opposed"},
        contact={"mobile": "06 12 34"},
        events=[opposition()],
        screenings=[],
    ),
    Case(
        "wrong_line_type: SMS to a landline",
        {"sms": "wrong_line_type"},
        {"sms": "wrong_line_type"},
        contact={"mobile": "01 44 55 66 77"},
        screenings=[
            (dt.date(2026, 6, 12), {"0144556677": "OK"}),
            (dt.date(2026, 11, 25), {"0144556677": "OK"}),
        ],
    ),
    Case(
        "retention_expired (and consent_expired for phone in fr-2026)",
        dict.fromkeys(ALL_CHANNELS, "retention_expired"),
        dict.fromkeys(ALL_CHANNELS, "retention_expired")
        | {"phone": "retention_expired|consent_expired"},
        contact={"collected_at": "2022-01-10"},
    ),
    Case(
        "an interaction keeps the contact alive",
        {},
        {"phone": "consent_expired"},
        contact={"collected_at": "2022-01-10"},
        events=[{"contact_id": "C1", "event": "interaction", "at": "2026-05-01"}],
    ),
    Case(
        "no_information_proof: no choice recorded for postal and phone",
        {"postal": "no_information_proof", "phone": "no_information_proof"},
        {"postal": "no_information_proof", "phone": "no_consent"},
        contact={"partners_postal": "", "partners_phone": ""},
    ),
    Case(
        "objected_at_collection",
        {"postal": "objected_at_collection", "phone": "objected_at_collection"},
        {"postal": "objected_at_collection", "phone": "no_consent"},
        contact={"partners_postal": "objection", "partners_phone": "objection"},
    ),
    Case(
        "phone informed: opt-out before 2026-08-11, opt-in after",
        {},
        {"phone": "no_consent"},
        contact={"partners_phone": "informed"},
    ),
    Case(
        "no_consent on opt-in channels",
        {"sms": "no_consent", "email": "no_consent", "automated_call": "no_consent"},
        {"sms": "no_consent", "email": "no_consent", "automated_call": "no_consent"},
        contact={
            "partners_sms": "informed",
            "partners_email": "objection",
            "partners_automated_call": "",
        },
    ),
    Case(
        "own-scope consent says nothing about partners",
        {"email": "no_consent"},
        {"email": "no_consent"},
        contact={"partners_email": "", "own_email": "consent"},
    ),
    Case(
        "consent_expired: phone consent older than a year in fr-2026",
        {},
        {"phone": "consent_expired"},
        contact={"collected_at": "2025-06-01"},
    ),
    Case(
        "a later consent event renews the phone consent",
        {},
        {},
        contact={"collected_at": "2025-06-01"},
        events=[
            {
                "contact_id": "C1",
                "event": "consent",
                "channel": "phone",
                "scope": "partners",
                "at": "2026-05-02",
                "via": "web_form",
            }
        ],
    ),
    Case(
        "a consent event makes an opt-in channel rentable",
        {},
        {},
        contact={"partners_email": ""},
        events=[
            {
                "contact_id": "C1",
                "event": "consent",
                "channel": "email",
                "scope": "partners",
                "at": "2026-02-01",
                "via": "web_form",
            }
        ],
    ),
    Case(
        "events dated after D do not exist for the order",
        {"email": "no_consent"},
        {},
        contact={"partners_email": ""},
        events=[
            {
                "contact_id": "C1",
                "event": "consent",
                "channel": "email",
                "scope": "partners",
                "at": "2026-07-01",
                "via": "web_form",
            }
        ],
    ),
    Case(
        "partner_not_disclosed: partner listed after collection (opt-in only)",
        dict.fromkeys(OPT_IN, "partner_not_disclosed"),
        dict.fromkeys((*OPT_IN, "phone"), "partner_not_disclosed"),
        partners=[partner(listed_from="2026-02-01"), partner("P2", listed_from="2019-01-01")],
    ),
    Case(
        "partner_not_disclosed: its category was never shown",
        dict.fromkeys(ALL_CHANNELS, "partner_not_disclosed"),
        dict.fromkeys(ALL_CHANNELS, "partner_not_disclosed"),
        partners=[partner(listed_from="2026-02-01")],
    ),
    Case(
        "a later partner-list notice discloses the new partner",
        {},
        {},
        partners=[partner(listed_from="2026-02-01")],
        events=[{"contact_id": "C1", "event": "informed_partner_list", "at": "2026-03-01"}],
    ),
    Case(
        "partner_not_disclosed: partner removed from the list before D",
        dict.fromkeys(OPT_IN, "partner_not_disclosed"),
        dict.fromkeys((*OPT_IN, "phone"), "partner_not_disclosed"),
        partners=[partner(listed_until="2026-05-01")],
    ),
    Case(
        "opposed: an opposition covers every channel",
        dict.fromkeys(ALL_CHANNELS, "opposed"),
        dict.fromkeys(ALL_CHANNELS, "opposed"),
        events=[opposition()],
    ),
    Case(
        "opposed replaces the missing proof and missing consent",
        dict.fromkeys(ALL_CHANNELS, "opposed"),
        dict.fromkeys(ALL_CHANNELS, "opposed"),
        contact={
            c: ""
            for c in (
                "partners_postal",
                "partners_phone",
                "partners_automated_call",
                "partners_sms",
                "partners_email",
            )
        },
        events=[opposition()],
    ),
    Case(
        "opposed for this partner only",
        dict.fromkeys(ALL_CHANNELS, "opposed"),
        dict.fromkeys(ALL_CHANNELS, "opposed"),
        events=[opposition(scope="partner:P1")],
    ),
    Case(
        "an opposition to another partner does not count",
        {},
        {},
        events=[opposition(scope="partner:P9")],
    ),
    Case(
        "an opposition to the owner's own prospecting does not count",
        {},
        {},
        events=[opposition(scope="own")],
    ),
    Case(
        "an opposition on one channel",
        {"sms": "opposed"},
        {"sms": "opposed"},
        events=[opposition(channel="sms")],
    ),
    Case(
        "a later consent lifts an opposition on that channel",
        dict.fromkeys(("postal", "phone", "automated_call", "sms"), "opposed"),
        dict.fromkeys(("postal", "phone", "automated_call", "sms"), "opposed"),
        events=[
            opposition(),
            {
                "contact_id": "C1",
                "event": "consent",
                "channel": "email",
                "scope": "partners",
                "at": "2026-04-01",
                "via": "web_form",
            },
        ],
    ),
    Case(
        "an opposition that names the email covers the contact",
        dict.fromkeys(ALL_CHANNELS, "opposed"),
        dict.fromkeys(ALL_CHANNELS, "opposed"),
        events=[opposition(contact_id="", email="MARIE.Exemple@example.com")],
    ),
    Case(
        "an opposition that names the phone covers the contact",
        {"sms": "opposed"},
        {"sms": "opposed"},
        events=[
            opposition(contact_id="", phone="+33 6 12 34 56 78", channel="sms", via="sms_stop")
        ],
    ),
    Case(
        "an erased contact yields no decision row at all",
        {},
        {},
        events=[{"contact_id": "C1", "event": "erasure", "at": "2026-03-01", "via": "letter"}],
        no_row=True,
    ),
    Case(
        "suppressed: email undeliverable, address of a deceased person",
        {"email": "suppressed", "postal": "suppressed"},
        {"email": "suppressed", "postal": "suppressed"},
        suppression=[
            {
                "list": "undeliverable",
                "email": "marie.exemple@example.com",
                "added_at": "2026-01-20",
            },
            {
                "list": "deceased",
                "address_line4": "12 RUE DE LA PAIX",
                "postal_code": "75002",
                "city": "PARIS",
                "added_at": "2026-01-20",
            },
        ],
    ),
    Case(
        "suppressed on this partner's own list, not another's",
        {"sms": "suppressed", "phone": "suppressed", "automated_call": "suppressed"},
        {"sms": "suppressed", "phone": "suppressed", "automated_call": "suppressed"},
        suppression=[
            {"list": "partner:P1", "phone": "0612345678", "added_at": "2026-01-20"},
            {"list": "partner:P9", "email": "marie.exemple@example.com", "added_at": "2026-01-20"},
        ],
    ),
    Case(
        "a suppression added after D does not count yet",
        {},
        {"email": "suppressed"},
        suppression=[
            {"list": "robinson", "email": "marie.exemple@example.com", "added_at": "2026-09-01"}
        ],
    ),
    Case(
        "bloctel_unscreened: required in fr-2016, optional in fr-2026",
        {"phone": "bloctel_unscreened", "automated_call": "bloctel_unscreened"},
        {},
        screenings=[],
    ),
    Case(
        "a screening older than 30 days is not valid",
        {"phone": "bloctel_unscreened", "automated_call": "bloctel_unscreened"},
        {},
        screenings=[
            (dt.date(2026, 5, 1), {"0612345678": "OK"}),
            (dt.date(2026, 10, 1), {"0612345678": "OK"}),
        ],
    ),
    Case(
        "bloctel_listed on both packs",
        {"phone": "bloctel_listed", "automated_call": "bloctel_listed"},
        {"phone": "bloctel_listed", "automated_call": "bloctel_listed"},
        screenings=[
            (dt.date(2026, 6, 12), {"0612345678": "INSCRIT"}),
            (dt.date(2026, 11, 25), {"0612345678": "INSCRIT"}),
        ],
    ),
    Case(
        "the latest valid screening decides",
        {},
        {},
        screenings=[
            (dt.date(2026, 6, 1), {"0612345678": "INSCRIT"}),
            (dt.date(2026, 6, 12), {"0612345678": "OK"}),
            (dt.date(2026, 11, 1), {"0612345678": "INSCRIT"}),
            (dt.date(2026, 11, 25), {"0612345678": "OK"}),
        ],
    ),
    Case(
        "press calls are exempt from Bloctel and opt-out in fr-2026",
        {},
        {},
        contact={"partners_phone": "informed"},
        order={"call_purpose": "press"},
        screenings=[
            (dt.date(2026, 6, 12), {"0612345678": "INSCRIT"}),
            (dt.date(2026, 11, 25), {"0612345678": "INSCRIT"}),
        ],
    ),
    Case(
        "B2B contacts: exempt from Bloctel, opt-out for email and phone",
        {},
        {},
        contact={
            "audience": "b2b",
            "company": "Exemple SA",
            "partners_email": "informed",
            "partners_phone": "informed",
        },
        screenings=[],
    ),
]


def _run(case: Case, engine: Engine, tmp: Path, pack: str) -> dict[str, str]:
    sc = Scenario(engine, tmp)
    sc.contacts = [contact(**case.contact)]
    if case.partners is not None:
        sc.partners = case.partners
    sc.events = case.events
    sc.suppression = case.suppression
    sc.screenings = OK_SCREENINGS if case.screenings is None else case.screenings
    sc.load()
    _, rows = sc.rent(as_of=PACKS[pack], **case.order)
    return reasons_by_channel(rows)


@pytest.mark.parametrize("pack", list(PACKS))
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_reason_table(case: Case, pack: str, any_engine: Engine, tmp_path: Path) -> None:
    expected = dict.fromkeys(ALL_CHANNELS, "") | (case.fr2016 if pack == "fr-2016" else case.fr2026)
    assert _run(case, any_engine, tmp_path, pack) == ({} if case.no_row else expected)


def test_bloctel_required_by_setting_in_fr_2026(any_engine: Engine, tmp_path: Path) -> None:
    sc = Scenario(any_engine, tmp_path)
    sc.load()
    _, rows = sc.rent(rules=RuleSettings(bloctel_screening="required"))
    got = reasons_by_channel(rows)
    assert got["phone"] == got["automated_call"] == "bloctel_unscreened"
    assert got["sms"] == ""


def test_window_spanning_both_packs_takes_the_strictest(any_engine: Engine, tmp_path: Path) -> None:
    sc = Scenario(any_engine, tmp_path)
    sc.contacts = [contact(partners_phone="informed")]
    sc.load()
    report, rows = sc.rent(as_of="2026-08-01", start="2026-08-03", end="2026-09-30")
    assert report.packs == ("fr-2016", "fr-2026")
    got = reasons_by_channel(rows)
    # opt-in from fr-2026 and the required screening of fr-2016, together
    assert got["phone"] == "no_consent|bloctel_unscreened"
    assert got["automated_call"] == "bloctel_unscreened"


def test_duplicate_keeps_the_most_recent_collection(any_engine: Engine, tmp_path: Path) -> None:
    sc = Scenario(any_engine, tmp_path)
    sc.contacts = [
        contact("C1", collected_at="2026-01-10"),
        contact("C2", collected_at="2026-02-10", first_name="Marc", mobile="07 51 22 33 44"),
        contact(
            "C0",
            collected_at="2026-01-10",
            first_name="Luc",
            email="luc@example.com",
            mobile="07 55 66 77 88",
        ),
    ]
    sc.screenings = []
    sc.load()
    _, rows = sc.rent(channels=("email", "postal"))
    got = {(r["contact_id"], r["channel"]): r["reasons"] for r in rows}
    assert got[("C2", "email")] == ""  # most recent collection wins
    assert got[("C1", "email")] == "duplicate"
    # two people at one address are two recipients; the same person twice is a duplicate
    assert got[("C2", "postal")] == "" and got[("C0", "postal")] == ""
    assert got[("C1", "postal")] == ""


def test_duplicate_tie_break_is_the_smallest_contact_id(any_engine: Engine, tmp_path: Path) -> None:
    sc = Scenario(any_engine, tmp_path)
    sc.contacts = [contact("C2"), contact("C1"), contact("C10")]
    sc.load()
    _, rows = sc.rent(channels=("email", "postal"))
    got = {(r["contact_id"], r["channel"]): r["reasons"] for r in rows}
    assert got[("C1", "email")] == "" and got[("C1", "postal")] == ""
    assert got[("C10", "email")] == got[("C2", "email")] == "duplicate"
    assert got[("C10", "postal")] == got[("C2", "postal")] == "duplicate"


def test_duplicate_only_among_rows_without_other_reasons(
    any_engine: Engine, tmp_path: Path
) -> None:
    sc = Scenario(any_engine, tmp_path)
    sc.contacts = [
        contact("C1", collected_at="2026-01-10"),
        contact("C2", collected_at="2026-02-10", partners_email="objection"),
    ]
    sc.load()
    _, rows = sc.rent(channels=("email",))
    got = {r["contact_id"]: r["reasons"] for r in rows}
    assert got == {"C1": "", "C2": "no_consent"}


def test_limit_counts_contacts_in_the_tie_break_order(any_engine: Engine, tmp_path: Path) -> None:
    sc = Scenario(any_engine, tmp_path)
    sc.contacts = [
        contact("C1", collected_at="2026-01-10"),
        contact("C2", collected_at="2026-03-10", email="c2@example.com", mobile="07 51 22 33 44"),
        contact(
            "C3",
            collected_at="2026-02-10",
            email="c3@example.com",
            mobile="07 55 66 77 88",
            address_line4="1 rue Neuve",
            partners_email="objection",
        ),
    ]
    sc.screenings = []
    sc.load()
    report, rows = sc.rent(channels=("email", "sms"), limit=2)
    got = {(r["contact_id"], r["channel"]): r["reasons"] for r in rows}
    assert report.contacts_delivered == 2
    # C2 (most recent) and C3 (its sms is eligible) are taken; C1 is past the limit
    assert got[("C2", "email")] == "" and got[("C3", "sms")] == ""
    assert got[("C3", "email")] == "no_consent"
    assert got[("C1", "email")] == got[("C1", "sms")] == "over_limit"


def test_several_numbers_each_get_a_row(any_engine: Engine, tmp_path: Path) -> None:
    sc = Scenario(any_engine, tmp_path)
    sc.contacts = [contact(phone="01 44 55 66 77", mobile="06 12 34 56 78")]
    sc.screenings = [(dt.date(2026, 11, 25), {"0612345678": "OK", "0144556677": "INSCRIT"})]
    sc.load()
    _, rows = sc.rent(channels=("phone", "sms"))
    got = {(r["channel"], r["coordinate"]): r["reasons"] for r in rows}
    assert got == {
        ("phone", "+33144556677"): "bloctel_listed",
        ("phone", "+33612345678"): "",
        ("sms", "+33144556677"): "wrong_line_type",
        ("sms", "+33612345678"): "",
    }


def test_bloctel_covers_the_french_numbering_plan_only(any_engine: Engine, tmp_path: Path) -> None:
    """rules.md, "Settled points": +33 and the overseas codes +262, +269, +508, +590,
    +594, +596, +687, +689; another country's number gets neither Bloctel reason."""
    numbers = {
        "FR": "06 12 34 56 78",
        "RE": "+262 692 12 34 56",
        "YT": "+269 321 23 45",
        "PM": "+508 55 12 34",
        "NC": "+687 75 12 34",
        "PF": "+689 87 12 34 56",
        "BE": "+32 470 12 34 56",
    }
    sc = Scenario(any_engine, tmp_path)
    sc.contacts = [
        contact(cid, mobile=number, email=f"{cid}@example.com", address_line4=f"{cid} rue Haute")
        for cid, number in numbers.items()
    ]
    sc.load()
    _, rows = sc.rent(channels=("phone",), as_of=PACKS["fr-2016"])  # screening required
    got = {r["contact_id"]: r["reasons"] for r in rows}
    assert got == {cid: "" if cid == "BE" else "bloctel_unscreened" for cid in numbers}


def test_contacts_collected_after_d_do_not_exist(any_engine: Engine, tmp_path: Path) -> None:
    sc = Scenario(any_engine, tmp_path)
    sc.contacts = [contact("C1"), contact("C2", collected_at="2026-12-01", email="c2@example.com")]
    sc.load()
    _, rows = sc.rent(channels=("email",))
    assert [r["contact_id"] for r in rows] == ["C1"]


def test_a_person_held_as_several_contacts_is_one_person(
    any_engine: Engine, tmp_path: Path
) -> None:
    """Contacts in one cluster (``dedupe --base``): the strictest choice of any of them
    applies to all, and the person is delivered once per channel."""
    from sqlalchemy import text

    sc = Scenario(any_engine, tmp_path)
    sc.contacts = [
        # the same person: moved house, another email, objected to email the second time
        contact("C1", email="marie@example.com", collected_at="2026-01-10"),
        contact(
            "C2",
            email="marie.exemple@example.org",
            address_line4="3 rue Neuve",
            mobile="07 51 22 33 44",
            partners_email="objection",
            collected_at="2026-02-10",
        ),
        contact("C3", first_name="Luc", email="luc@example.com", mobile="07 55 66 77 88"),
    ]
    sc.screenings = []
    sc.load()
    _, before = sc.rent(channels=("email", "postal", "sms"), out="before")
    got = {(r["contact_id"], r["channel"]): r["reasons"] for r in before}
    assert got[("C1", "email")] == "" and got[("C2", "email")] == "no_consent"
    assert got[("C1", "postal")] == got[("C2", "postal")] == ""
    with any_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO contact_clusters (contact_id, cluster_id, computed_at) "
                "VALUES ('C1', 'C1', 0), ('C2', 'C1', 0)"
            )
        )
    _, after = sc.rent(channels=("email", "postal", "sms"), out="after")
    got = {(r["contact_id"], r["channel"]): r["reasons"] for r in after}
    # the objection made on one record applies to the other (email is opt-in: no consent)
    assert got[("C1", "email")] == got[("C2", "email")] == "no_consent"
    # consent on both for SMS: the person once, the most recent record
    assert got[("C2", "sms")] == "" and got[("C1", "sms")] == "duplicate"
    assert got[("C2", "postal")] == "" and got[("C1", "postal")] == "duplicate"
    # nobody else is touched
    assert got[("C3", "email")] == got[("C3", "sms")] == got[("C3", "postal")] == ""
    from listguard.config import Settings
    from listguard.renting.check_order import CheckOptions
    from listguard.rules.check import explain

    options = CheckOptions(partner="P1", channel="email", as_of=dt.date(2026, 11, 28))
    told = explain(any_engine, Settings(), "C1", options)
    assert "one person with C2" in told and "no_consent" in told


def test_in_a_cluster_no_information_on_one_record_is_no_information(
    any_engine: Engine, tmp_path: Path
) -> None:
    """Postal is opt-out: one record informed, the other with no choice recorded: the
    person cannot be shown to have been informed."""
    from sqlalchemy import text

    sc = Scenario(any_engine, tmp_path)
    sc.contacts = [
        contact("C1", partners_postal="informed"),
        contact("C2", partners_postal="", address_line4="3 rue Neuve", email="m@example.org"),
    ]
    sc.screenings = []
    sc.load()
    with any_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO contact_clusters (contact_id, cluster_id, computed_at) "
                "VALUES ('C1', 'C2', 0), ('C2', 'C2', 0)"
            )
        )
    _, rows = sc.rent(channels=("postal",))
    got = {r["contact_id"]: r["reasons"] for r in rows}
    assert got == {"C1": "no_information_proof", "C2": "no_information_proof"}
