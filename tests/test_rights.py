"""The person's right of access: everything held about them, with its sources."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy import Engine

from listguard.audit import verify
from listguard.oppositions import record_opposition
from listguard.rights import access_report, access_text
from tests.scenario import Scenario, contact, listguard, partner, write_csv


def test_access_report_gathers_data_versions_choices_and_deliveries(
    any_engine: Engine, tmp_path: Path
) -> None:
    from listguard.imports import import_file

    sc = Scenario(
        any_engine,
        tmp_path,
        contacts=[
            contact("C1", email="marie@example.com", loyalty="gold"),
            contact(
                "C9", email="other@example.com", first_name="Jean", address_line4="3 rue Neuve"
            ),
        ],
        partners=[partner("P1")],
    )
    sc.load()
    sc.rent(partner="P1", channels=("email",), out="d1")
    import_file(
        any_engine,
        "contacts",
        write_csv(tmp_path / "c2.csv", [contact("C1", email="marie@example.com", city="Lyon")]),
    )
    record_opposition(any_engine, channel="email", email="Marie@Example.com")
    report = access_report(any_engine, email="MARIE@example.com")
    assert [c["contact_id"] for c in report["contacts"]] == ["C1"]
    c1 = report["contacts"][0]
    assert c1["data"]["city"] == "Lyon" and c1["other_data"] == {}
    assert [v["version"] for v in c1["versions"]] == [1, 2]
    assert c1["versions"][0]["data"]["city"] == "Paris"
    assert all(v["file_sha256"] for v in c1["versions"])
    assert [(d["partner_id"], d["coordinate"]) for d in report["deliveries"]] == [
        ("P1", "marie@example.com")
    ]
    assert [e["event"] for e in report["events"]] == ["opposition"]
    assert c1["same_person_as"] == []
    assert [m["partner_id"] for m in report["messages_to_partners"]] == ["P1"]
    assert "other@example.com" not in str(report)  # nothing about anybody else
    text = access_text(report, "Éditions Exemple")
    assert "Partenaires à qui vos coordonnées ont été louées" in text
    assert "marie@example.com" in text
    assert verify(any_engine).ok


def test_access_for_an_unknown_person_says_so(engine: Engine) -> None:
    report = access_report(engine, phone="06 00 00 00 01")
    assert report["contacts"] == [] and report["deliveries"] == []
    assert "aucune donnée" in access_text(report, "X")


def test_access_from_the_command_line(tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return listguard(tmp_path / "r.db", tmp_path, *args)

    assert cli("init").returncode == 0
    assert (
        cli("import", "contacts", str(write_csv(tmp_path / "c.csv", [contact("C1")]))).returncode
        == 0
    )
    shown = cli("rights", "access", "--contact", "C1", "--format", "json")
    assert shown.returncode == 0 and '"contact_id": "C1"' in shown.stdout
    bad = cli("rights", "access", "--email", "not-an-email")
    assert bad.returncode == 1 and "not a valid email address" in bad.stderr
    assert "Traceback" not in bad.stderr


def _marie_and_jean(engine: Engine, tmp_path: Path) -> Scenario:
    """C1 (Marie) and C9 (Jean, another person), loaded, partner P1."""
    sc = Scenario(
        engine,
        tmp_path,
        contacts=[
            contact("C1", email="marie@example.com"),
            contact(
                "C9", email="other@example.com", first_name="Jean", address_line4="3 rue Neuve"
            ),
        ],
        partners=[partner("P1")],
    )
    sc.load()
    return sc


def test_erasure_tells_the_partners_deletes_the_data_and_refuses_a_reimport(
    any_engine: Engine, tmp_path: Path
) -> None:
    from sqlalchemy import text

    from listguard.imports import import_file
    from listguard.rights import erase

    sc = _marie_and_jean(any_engine, tmp_path)
    sc.rent(partner="P1", channels=("email", "sms"), out="d1")
    record_opposition(any_engine, channel="sms", contact_id="C1")
    with any_engine.begin() as conn:  # found to be the same person as C9 (dedupe --base)
        conn.execute(
            text(
                "INSERT INTO contact_clusters (contact_id, cluster_id, computed_at) "
                "VALUES ('C1', 'C1', 0), ('C9', 'C1', 0)"
            )
        )
    told = access_report(any_engine, contact_id="C9")
    assert told["contacts"][0]["same_person_as"] == ["C1"]
    assert "même personne que la ou les fiches C1" in access_text(told, "Éditions Exemple")
    done = erase(any_engine, email="Marie@Example.com")
    assert (done.contacts, done.messages) == (1, 1)
    # the past delivery folder holding the person is kept, and named
    assert [(f.folder, f.partner_id, f.coordinates) for f in done.folders] == [
        (str((tmp_path / "d1").resolve()), "P1", 2)
    ]
    assert (tmp_path / "d1" / "decisions.csv").exists()
    with any_engine.connect() as conn:
        kept = conn.execute(text("SELECT contact_id, cluster_id FROM contact_clusters")).all()
    assert [tuple(k) for k in kept] == [("C9", "C9")]  # nothing of the erased person's id stays
    with any_engine.connect() as conn:

        def one(sql: str) -> object:
            return conn.execute(text(sql)).scalar_one()

        assert one("SELECT count(*) FROM contacts WHERE contact_id = 'C1'") == 0
        assert one("SELECT count(*) FROM contact_history WHERE contact_id = 'C1'") == 0
        # what happened stays, not who: no event names the person any more
        assert (
            one(
                "SELECT count(*) FROM events "
                "WHERE contact_id = 'C1' OR email_norm = 'marie@example.com'"
            )
            == 0
        )
        assert one("SELECT count(*) FROM events WHERE event IN ('opposition', 'erasure')") == 2
        assert one("SELECT count(*) FROM ledger WHERE coordinate = 'marie@example.com'") == 0
        assert one("SELECT count(*) FROM ledger WHERE coordinate = 'erased'") == 2
        assert one("SELECT count(*) FROM ledger WHERE contact_id = 'C9'") == 1
        # the erasure message still tells P1 which of its contacts to erase
        items = conn.execute(
            text(
                "SELECT i.coordinate FROM outbox_items i JOIN outbox o ON o.id = i.message_id "
                "JOIN events e ON e.id = o.event_id WHERE e.event = 'erasure' ORDER BY 1"
            )
        ).scalars()
        assert sorted(items) == ["+33612345678", "marie@example.com"]
    assert access_report(any_engine, contact_id="C1")["contacts"] == []
    # once the partner has acknowledged the erasure, its message forgets the coordinates
    from listguard.propagation.acks import acknowledge
    from listguard.propagation.transports.file_drop import FileDropTransport
    from listguard.propagation.transports.routing import Transports
    from listguard.propagation.worker import run_once

    run_once(any_engine, Transports(file_drop=FileDropTransport(tmp_path / "drop")))
    erasure_file = next(f for f in (tmp_path / "drop").rglob("*.csv") if "erasure" in f.read_text())
    assert "marie@example.com" in erasure_file.read_text("utf-8-sig")
    assert acknowledge(any_engine, erasure_file.stem)
    with any_engine.connect() as conn:
        kept = conn.execute(
            text("SELECT count(*) FROM outbox_items WHERE coordinate = 'marie@example.com'")
        ).scalar_one()
    assert kept == 0
    # the same person comes back in a file, by id or by email: refused, with the reason
    rows = [
        contact("C1", email="marie@example.com"),
        contact("C7", email="MARIE@example.com", mobile="", first_name="M"),
        contact("C8", email="new@example.com", mobile="", first_name="N", address_line4="9 rue"),
    ]
    report = import_file(any_engine, "contacts", write_csv(tmp_path / "again.csv", rows))
    assert (report.rows_new, report.rows_rejected) == (1, 2)
    assert report.rejects_path is not None
    rejects = report.rejects_path.read_text("utf-8-sig")
    assert rejects.count("asked to be erased") == 2
    assert verify(any_engine).ok


def test_rectification_corrects_the_contact_and_tells_each_partner_what_it_received(
    any_engine: Engine, tmp_path: Path
) -> None:
    import json

    import pytest
    from sqlalchemy import text

    from listguard.errors import InputError
    from listguard.propagation.messages import load_messages
    from listguard.rights import rectify
    from tests.test_propagation import _base

    _base(any_engine, tmp_path)  # C1 rented to P1 (email, sms) and to P2 (postal)
    with pytest.raises(InputError, match="email"):
        rectify(any_engine, "C1", {"email": "not an address"})
    with pytest.raises(InputError, match="password"):
        rectify(any_engine, "C1", {"password": "x"})
    with pytest.raises(InputError, match="no contact"):
        rectify(any_engine, "C404", {"last_name": "X"})
    done = rectify(any_engine, "C1", {"last_name": "Durand", "email": " Marie.Durand@Example.com"})
    assert set(done.changed) >= {"last_name", "email", "email_norm", "recipient_key"}
    assert done.messages == 2
    with any_engine.connect() as conn:
        row = conn.execute(
            text("SELECT last_name, email_norm, version FROM contacts WHERE contact_id = 'C1'")
        ).one()
        kept = conn.execute(
            text("SELECT last_name, email_norm FROM contact_versions WHERE contact_id = 'C1'")
        ).all()
        ids = [int(i) for i in conn.execute(text("SELECT id FROM outbox ORDER BY id")).scalars()]
        messages = load_messages(conn, ids)
    assert tuple(row) == ("Durand", "marie.durand@example.com", 2)
    assert [tuple(k) for k in kept] == [("Exemple", "c1@example.com")]
    bodies = {m.partner_id: json.loads(m.body) for m in messages.values()}
    assert bodies["P1"]["type"] == "rectification"
    p1 = {i["channel"]: i for i in bodies["P1"]["contacts"]}
    assert p1["email"]["coordinate"] == "c1@example.com"  # what the partner holds
    assert p1["email"]["corrected"] == {
        "email": "marie.durand@example.com",
        "last_name": "Durand",
    }
    assert p1["sms"]["corrected"] == {"last_name": "Durand"}
    assert [i["corrected"] for i in bodies["P2"]["contacts"]] == [{"last_name": "Durand"}]
    # an address correction concerns the partner that received the address only
    moved = rectify(any_engine, "C1", {"address_line4": "12 avenue Foch"})
    assert moved.messages == 1
    assert rectify(any_engine, "C1", {"address_line4": "12 avenue Foch"}).changed == ()
    assert verify(any_engine).ok


def test_an_erasure_imported_from_a_file_erases_the_person_like_rights_erase(
    any_engine: Engine, tmp_path: Path
) -> None:
    from sqlalchemy import text

    from listguard.imports import import_file

    sc = _marie_and_jean(any_engine, tmp_path)
    sc.rent(partner="P1", channels=("email",), out="d1")
    database = any_engine.url.database if any_engine.dialect.name == "sqlite" else None
    if database:  # the rental made the columnar copy of the contacts
        assert Path(f"{database}-arrow").is_dir()
    events = [
        {"email": "Marie@Example.com", "event": "erasure", "at": "2026-11-20", "via": "letter"}
    ]
    report = import_file(any_engine, "events", write_csv(tmp_path / "erase.csv", events))
    assert report.erasure is not None
    assert (report.erasure.persons, report.erasure.contacts) == (1, 1)
    # the delivery folder that holds the person is kept, and named
    assert [f.folder for f in report.erasure.folders] == [str((tmp_path / "d1").resolve())]
    with any_engine.connect() as conn:

        def one(sql: str) -> object:
            return conn.execute(text(sql)).scalar_one()

        assert one("SELECT count(*) FROM contacts WHERE contact_id = 'C1'") == 0
        assert one("SELECT count(*) FROM events WHERE email_norm = 'marie@example.com'") == 0
        assert one("SELECT count(*) FROM ledger WHERE coordinate = 'marie@example.com'") == 0
        assert one("SELECT count(*) FROM erased") == 3  # the contact id, email and mobile
    if database:  # no derived file keeps the erased record
        assert not Path(f"{database}-arrow").exists()
    _, rows = sc.rent(partner="P1", channels=("email",), out="d2")
    assert [r["contact_id"] for r in rows] == ["C9"]  # no decision row at all for C1
    assert "marie@example.com" not in (tmp_path / "d2" / "decisions.csv").read_text("utf-8-sig")
    again = import_file(
        any_engine, "contacts", write_csv(tmp_path / "again.csv", [contact("C1", email="x@y.fr")])
    )
    assert (again.rows_new, again.rows_rejected) == (0, 1)
    # an event naming the erased person does not write their identifiers again; a
    # second erasure of them is applied (and erases nothing more)
    later = [
        {"email": "marie@example.com", "event": "opposition", "channel": "sms", "at": "2026-11-21"},
        {
            "contact_id": "C1",
            "event": "consent",
            "channel": "sms",
            "scope": "all",
            "at": "2026-11-21",
        },
        {"email": "marie@example.com", "event": "erasure", "at": "2026-11-22"},
    ]
    replayed = import_file(any_engine, "events", write_csv(tmp_path / "later.csv", later))
    assert (replayed.rows_new, replayed.rows_rejected) == (1, 2)
    assert replayed.rejects_path is not None
    assert replayed.rejects_path.read_text("utf-8-sig").count("asked to be erased") == 2
    with any_engine.connect() as conn:
        named = conn.execute(
            text(
                "SELECT count(*) FROM events WHERE contact_id = 'C1' "
                "OR email_norm = 'marie@example.com'"
            )
        ).scalar_one()
    assert named == 0
    assert verify(any_engine).ok


def test_after_an_erasure_no_file_of_the_registry_holds_the_person(
    engine: Engine, tmp_path: Path
) -> None:
    from listguard.rights import erase

    sc = Scenario(
        engine,
        tmp_path,
        contacts=[
            contact("C1", email="marie@example.com", mobile="06 98 76 54 32"),
            contact(
                "C9", email="other@example.com", first_name="Jean", address_line4="3 rue Neuve"
            ),
        ],
        partners=[partner("P1")],
    )
    sc.load()
    sc.rent(partner="P1", channels=("postal",), out="d1")  # makes the columnar copy
    record_opposition(engine, channel="sms", email="marie@example.com")
    access_report(engine, email="marie@example.com")
    database = Path(str(engine.url.database))
    assert list(Path(f"{database}-arrow").rglob("*.arrow"))

    def held() -> list[str]:
        beside = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
        files = [f for p in beside for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
        return [
            f.name
            for f in files
            if any(v in f.read_bytes() for v in (b"marie@example.com", b"+33698765432"))
        ]

    assert held()  # the registry holds the person before
    erase(engine, email="marie@example.com", via="letter")
    # neither the registry's pages (freed ones included), its write-ahead log nor any
    # file derived from it holds the email or the number any more
    assert held() == []
    assert access_report(engine, contact_id="C9")["contacts"]  # the others stay


def test_registry_connections_sync_every_commit_and_zero_what_they_free(engine: Engine) -> None:
    """An acknowledged opposition survives a power cut (``synchronous=FULL``: NORMAL in
    WAL mode may lose the last commits); deleted data does not stay in free space."""
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1


def test_erasure_from_the_command_line_names_the_folders_holding_the_person(
    tmp_path: Path,
) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return listguard(tmp_path / "r.db", tmp_path, *args)

    assert cli("init").returncode == 0
    people = [contact("C1"), contact("C2", email="c2@example.com", first_name="Jean")]
    assert (
        cli("import", "partners", str(write_csv(tmp_path / "p.csv", [partner()]))).returncode == 0
    )
    assert cli("import", "contacts", str(write_csv(tmp_path / "c.csv", people))).returncode == 0
    order = tmp_path / "order.toml"
    order.write_text(
        'partner = "P1"\nchannels = ["postal"]\npurpose = "Offre"\n'
        "campaign_start = 2026-12-01\ncampaign_end = 2026-12-31\nas_of = 2026-11-28\n"
    )
    assert cli("rent", str(order), "--out", str(tmp_path / "d1")).returncode == 0
    erased = cli("rights", "erase", "--contact", "C1", "--via", "letter")
    assert erased.returncode == 0, erased.stderr
    assert "1 contact record(s) deleted" in erased.stdout
    assert str((tmp_path / "d1").resolve()) in erased.stdout
    events = [{"contact_id": "C2", "event": "erasure", "at": "2026-11-20"}]
    imported = cli("import", "events", str(write_csv(tmp_path / "e.csv", events)))
    assert imported.returncode == 0, imported.stderr
    assert "erased: 1 erasure(s), 1 contact record(s) deleted" in imported.stdout
    assert str((tmp_path / "d1").resolve()) in imported.stdout


def test_an_erasure_clears_what_acknowledged_messages_held_of_the_person(
    any_engine: Engine, tmp_path: Path
) -> None:
    from sqlalchemy import text

    from listguard.propagation.acks import acknowledge
    from listguard.propagation.messages import load_messages
    from listguard.rights import erase, rectify
    from tests.test_propagation import _base

    _base(any_engine, tmp_path)
    rectify(any_engine, "C1", {"last_name": "Durand", "email": "marie.durand@example.com"})
    with any_engine.connect() as conn:
        ids = [int(i) for i in conn.execute(text("SELECT id FROM outbox")).scalars()]
        messages = load_messages(conn, ids)
    for message in messages.values():
        assert acknowledge(any_engine, message.key)
    erase(any_engine, contact_id="C1")
    with any_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT i.coordinate, i.corrected FROM outbox_items i "
                "JOIN outbox o ON o.id = i.message_id WHERE o.status = 'acknowledged'"
            )
        ).all()
    assert rows
    assert {r.coordinate for r in rows} == {"erased"}  # the address too
    assert [r.corrected for r in rows if r.corrected is not None] == []


def test_an_erasure_clears_the_identifier_from_another_contacts_old_versions(
    any_engine: Engine, tmp_path: Path
) -> None:
    from sqlalchemy import text

    from listguard.imports import import_file
    from listguard.rights import erase

    sc = Scenario(
        any_engine,
        tmp_path,
        contacts=[contact("C2", email="old@example.com", phone="0140000002")],
        partners=[partner("P1")],
    )
    sc.load()
    row = contact("C2", email="new@example.com", phone="0140000003")
    import_file(any_engine, "contacts", write_csv(tmp_path / "c2.csv", [row]))
    erase(any_engine, email="old@example.com")
    erase(any_engine, phone="+33140000002")
    with any_engine.connect() as conn:
        versions = conn.execute(
            text("SELECT email, email_norm, phone, phone_e164 FROM contact_versions")
        ).all()
        current = conn.execute(text("SELECT email_norm, phone_e164 FROM contacts")).one()
    assert versions  # C2 is not erased: its history stays, without the erased values
    held = {v for r in versions for v in r if v}
    assert not held & {"old@example.com", "0140000002", "+33140000002"}
    assert tuple(current) == ("new@example.com", "+33140000003")


def test_an_erasure_deletes_the_screening_results_of_the_persons_numbers(
    any_engine: Engine, tmp_path: Path
) -> None:
    import datetime as dt

    from sqlalchemy import text

    from listguard.rights import erase

    Scenario(
        any_engine,
        tmp_path,
        contacts=[contact("C1", mobile="0611111111"), contact("C2", mobile="0622222222")],
        partners=[partner("P1")],
        screenings=[(dt.date(2026, 11, 25), {"0611111111": "OK", "0622222222": "OK"})],
    ).load()
    with any_engine.connect() as conn:
        numbers = conn.execute(
            text("SELECT phone_e164, mobile_e164 FROM contacts WHERE contact_id = 'C1'")
        ).one()
        screened = set(conn.execute(text("SELECT phone_e164 FROM bloctel_results")).scalars())
    assert {n for n in numbers if n} & screened
    erase(any_engine, contact_id="C1")
    with any_engine.connect() as conn:
        left = set(conn.execute(text("SELECT phone_e164 FROM bloctel_results")).scalars())
    assert not {n for n in numbers if n} & left
    assert left  # C2's stay
