"""The command line end to end, as a user runs it: exit codes, messages, files."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from listguard.timeutil import today
from tests.scenario import contact, listguard, partner, write_csv


def cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return listguard(tmp / "reg.db", tmp, *args)


def ok(tmp: Path, *args: str) -> str:
    done = cli(tmp, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def user_error(tmp: Path, *args: str) -> str:
    done = cli(tmp, *args)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stderr


ORDER = """partner = "P1"
channels = ["postal", "phone", "sms", "email"]
purpose = "Offre de test"
campaign_start = 2026-12-01
campaign_end = 2026-12-31
as_of = 2026-11-28
"""


@pytest.fixture
def base(tmp_path: Path) -> Path:
    ok(tmp_path, "init")
    write_csv(
        tmp_path / "partners.csv", [partner(), partner("P2", category="presse", sector="press")]
    )
    write_csv(
        tmp_path / "contacts.csv",
        [
            contact("C1"),
            contact(
                "C2",
                first_name="Paul",
                email="c2@example.com",
                mobile="07 51 22 33 44",
                partners_email="objection",
            ),
            contact("C3", collected_at="31/02/2026"),
        ],
    )
    write_csv(
        tmp_path / "events.csv",
        [
            {
                "contact_id": "C1",
                "event": "opposition",
                "channel": "sms",
                "scope": "partners",
                "at": "2026-10-01",
                "via": "sms_stop",
            },
        ],
    )
    ok(tmp_path, "import", "partners", "partners.csv")
    out = ok(tmp_path, "import", "contacts", "contacts.csv")
    assert "2 new" in out and "1 rejected" in out
    ok(tmp_path, "import", "events", "events.csv")
    (tmp_path / "order.toml").write_text(ORDER, encoding="utf-8")
    return tmp_path


def test_init_is_safe_to_run_again(tmp_path: Path) -> None:
    assert "upgraded" in ok(tmp_path, "init")
    assert "up to date" in ok(tmp_path, "init")


def test_a_registry_not_initialised_is_reported(tmp_path: Path) -> None:
    assert "listguard init" in user_error(tmp_path, "import", "contacts", "x.csv")


def test_the_head_revision_commands_expect_is_the_last_migration(tmp_path: Path) -> None:
    from sqlalchemy import text

    from listguard.db.migrate import head_revision
    from listguard.storage.engine import HEAD_REVISION, make_engine

    assert head_revision() == HEAD_REVISION
    ok(tmp_path, "init")
    engine = make_engine(f"sqlite:///{tmp_path / 'reg.db'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0012'"))
    engine.dispose()
    message = user_error(tmp_path, "import", "contacts", "x.csv")
    assert "at revision 0012" in message and "listguard init" in message


def test_rent_writes_the_delivery_folder(base: Path) -> None:
    out = ok(base, "rent", "order.toml", "--out", "delivery")
    assert "fr-2026" in out and "2 contacts" in out
    folder = base / "delivery"
    assert sorted(p.name for p in folder.iterdir()) == [
        "contacts.csv",
        "decisions.csv",
        "manifest.json",
        "notice.txt",
    ]
    with (folder / "contacts.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    assert [r["source"] for r in rows] == ["Organisme propriétaire"] * 2
    assert all(r["contact_ref"].startswith("D1-") for r in rows)
    assert "C1" not in {r["contact_ref"] for r in rows}
    by_email = {r["email"]: r for r in rows}
    assert set(by_email) == {"marie.exemple@example.com", ""}
    assert by_email["marie.exemple@example.com"]["sms"] == ""  # opposed on sms
    assert "birth_date" not in rows[0]  # only the fields of the rented channels
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["sms"]["excluded_by_reason"] == {"opposed": 1}
    assert manifest["counts"]["email"]["excluded_by_reason"] == {"no_consent": 1}
    import hashlib

    for name, digest in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    notice = (folder / "notice.txt").read_text(encoding="utf-8")
    assert "Partenaire P1" in notice and "Offre de test" in notice and "un mois" in notice
    import sqlite3

    with sqlite3.connect(base / "reg.db") as db:
        recorded = db.execute("SELECT out_dir, contacts_delivered FROM deliveries").fetchall()
        ledger = db.execute("SELECT COUNT(DISTINCT contact_id) FROM ledger").fetchone()
    assert recorded == [(str(folder.resolve()), 2)] and ledger == (2,)
    # a delivery is never overwritten
    assert "not empty" in user_error(base, "rent", "order.toml", "--out", "delivery")


def test_check_explains_with_rule_and_source(base: Path) -> None:
    out = ok(base, "check", "C1", "--partner", "P1", "--channel", "sms", "--as-of", "2026-11-28")
    assert "opposed" in out and "source: RGPD" in out and "fr-2026" in out
    out = ok(base, "check", "C2", "--partner", "P1", "--channel", "email", "--as-of", "2026-11-28")
    assert "no_consent" in out and "L34-5" in out
    assert "unknown contact" in user_error(
        base, "check", "C9", "--partner", "P1", "--channel", "sms"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (ORDER.replace('"P1"', '"P404"'), "unknown partner 'P404'"),
        (ORDER.replace('"sms"', '"fax"'), "unknown channel 'fax'"),
        (
            ORDER.replace("campaign_end = 2026-12-31", "campaign_end = 2026-11-30"),
            "ends (2026-11-30) before it starts",
        ),
        (ORDER.replace("as_of = 2026-11-28", "as_of = 2026-11-31"), "not a valid TOML"),
        (
            ORDER.replace("2026-11-28", "9999-12-31").replace("2026-12-31", "9999-12-31"),
            "campaign_end must be a date between 1970-01-01 and 2099-12-31, got 9999-12-31",
        ),
        (ORDER + "colour = 'red'\n", "unknown key(s) colour"),
        (ORDER.replace("call_purpose", "x") + 'call_purpose = "spam"\n', "unknown call_purpose"),
    ],
)
def test_bad_orders(base: Path, body: str, message: str) -> None:
    (base / "bad.toml").write_text(body, encoding="utf-8")
    assert message in user_error(base, "rent", "bad.toml", "--out", "d2")
    assert not (base / "d2").exists()


def test_bad_files_and_options(base: Path) -> None:
    (base / "u16.csv").write_text("contact_id;collected_at\nC1;2026-01-01\n", encoding="utf-16")
    assert "UTF-16" in user_error(base, "import", "contacts", "u16.csv")
    assert "file not found" in user_error(base, "import", "events", "nope.csv")
    assert "this is a folder" in user_error(base, "import", "contacts", str(base))
    assert "--screened-at" in user_error(
        base, "bloctel", "import", "x.csv", "--screened-at", "2026-02-30"
    )
    done = cli(base, "rent")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (base / "cfg.toml").write_text("[rules]\nretention_years = 5\n", encoding="utf-8")
    assert "stricter" in user_error(
        base, "--config", "cfg.toml", "rent", "order.toml", "--out", "d3"
    )


def test_bloctel_round_trip_with_the_fake_service(base: Path) -> None:
    from listguard.bloctel import FakeBloctel

    out = ok(base, "bloctel", "export", "--out", "export.csv", "--as-of", "2026-11-28")
    assert out.startswith("2 numbers")
    lines = (base / "export.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "Telephone;Identifiant" and "0612345678;1" in lines
    FakeBloctel(["0612345678"]).screen(base / "export.csv", base / "result.csv")
    out = ok(base, "bloctel", "import", "result.csv", "--screened-at", "2026-11-25")
    assert "1 registered" in out
    assert "already recorded" in ok(
        base, "bloctel", "import", "result.csv", "--screened-at", "2026-11-25"
    )
    assert ok(base, "bloctel", "export", "--out", "again.csv", "--as-of", "2026-11-28").startswith(
        "0 numbers"
    )
    ok(base, "rent", "order.toml", "--out", "delivery")
    with (base / "delivery" / "decisions.csv").open(encoding="utf-8-sig") as f:
        rows = {
            (r["contact_id"], r["channel"]): r["reasons"] for r in csv.DictReader(f, delimiter=";")
        }
    assert rows[("C1", "phone")] == "bloctel_listed"


def _reasons(delivery: Path) -> dict[tuple[str, str], str]:
    with (delivery / "decisions.csv").open(encoding="utf-8-sig") as f:
        return {
            (r["contact_id"], r["channel"]): r["reasons"] for r in csv.DictReader(f, delimiter=";")
        }


def test_a_rental_loads_neither_pandas_nor_polars(base: Path) -> None:
    """Loading them would cost more than half a second of every rental: pyarrow loads
    pandas the first time it converts Python values, the file readers load Polars."""
    probe = (
        "import runpy, sys\n"
        "try:\n"
        "    runpy.run_module('listguard', run_name='__main__')\n"
        "finally:\n"
        "    print([m for m in ('pandas', 'polars') if m in sys.modules], file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "rent", "order.toml", "--out", "delivery"],
        capture_output=True,
        text=True,
        env={**os.environ, "LISTGUARD_DATABASE_URL": f"sqlite:///{base / 'reg.db'}"},
        cwd=base,
        timeout=120,
        check=False,
    )
    assert (base / "delivery" / "decisions.csv").exists(), done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_contacts_imported_after_the_clusters_are_named_before_renting(base: Path) -> None:
    """The rules treat a cluster as one person only for the contacts it was computed
    on: a rental after a later import says so, and the warning ends once clusters are
    computed again."""
    (base / "order.toml").write_text(ORDER.split("as_of")[0], encoding="utf-8")
    done = cli(base, "rent", "order.toml", "--out", "never")
    assert done.returncode == 0 and "dedupe --base" not in done.stderr  # never computed
    # instants are whole seconds, and a contact recorded in the second the clusters are
    # computed counts as newer than them: the test leaves that second behind
    time.sleep(1.1)
    ok(base, "dedupe", "--base", "--out", "dup")
    done = cli(base, "rent", "order.toml", "--out", "fresh")
    assert done.returncode == 0 and "dedupe --base" not in done.stderr
    write_csv(base / "more.csv", [contact("C4", email="c4@example.com")])
    ok(base, "import", "contacts", "more.csv")
    done = cli(base, "rent", "order.toml", "--out", "stale")
    assert done.returncode == 0
    assert "1 contact(s) were imported or changed" in done.stderr
    assert "dedupe --base" in done.stderr
    time.sleep(1.1)
    ok(base, "dedupe", "--base", "--out", "dup2")
    done = cli(base, "rent", "order.toml", "--out", "again")
    assert done.returncode == 0 and "dedupe --base" not in done.stderr


def test_oppose_then_rent(base: Path) -> None:
    out = ok(base, "oppose", "--email", "C2@Example.com", "--channel", "all", "--scope", "partners")
    assert "covers 1 contact" in out
    # decided as of yesterday, the opposition of today is not seen, and the user is told
    day = today()  # the day the CLI takes for today (Paris)
    campaign = (
        f"campaign_start = {day + dt.timedelta(days=3)}\n"
        f"campaign_end = {day + dt.timedelta(days=33)}\n"
    )
    order = ORDER.split("campaign_start")[0] + campaign
    (base / "past.toml").write_text(order + f"as_of = {day - dt.timedelta(days=1)}\n", "utf-8")
    done = cli(base, "rent", "past.toml", "--out", "past")
    assert done.returncode == 0 and "is before today" in done.stderr
    assert _reasons(base / "past")[("C2", "postal")] != "opposed"
    # what the file holds of C2 goes to the partner with the opposition
    assert "dated after as_of cover delivered coordinates: queued for" in done.stdout, done.stdout
    # decided as of today (as_of left out), it is
    (base / "order.toml").write_text(order, encoding="utf-8")
    done = cli(base, "rent", "order.toml", "--out", "delivery")
    assert done.returncode == 0 and "before today" not in done.stderr
    rows = _reasons(base / "delivery")
    assert rows[("C2", "postal")] == "opposed"
    assert "exactly one" in user_error(base, "oppose", "--channel", "all")


def test_help_lists_the_contract_commands(tmp_path: Path) -> None:
    out = ok(tmp_path, "--help")
    for command in ("init", "import", "bloctel", "rent", "check", "oppose", "demo"):
        assert command in out


def test_disclosure_duplicate_and_limit_through_the_cli(base: Path) -> None:
    write_csv(base / "more.csv", [contact("C4", first_name="Léa", collected_at="2026-01-05")])
    ok(base, "import", "contacts", "more.csv")  # same email and mobile as C1, collected earlier
    write_csv(base / "p3.csv", [partner("P3", category="meubles", listed_from="2026-11-01")])
    ok(base, "import", "partners", "p3.csv")
    (base / "limit.toml").write_text(ORDER + "limit = 1\n", encoding="utf-8")
    ok(base, "rent", "limit.toml", "--out", "d1")
    with (base / "d1" / "decisions.csv").open(encoding="utf-8-sig") as f:
        rows = {
            (r["contact_id"], r["channel"]): r["reasons"] for r in csv.DictReader(f, delimiter=";")
        }
    assert rows[("C4", "email")] == "duplicate"
    # C1 and C2 were collected the same day: the smaller contact_id is taken first
    assert rows[("C1", "postal")] == "" and rows[("C2", "postal")] == "over_limit"
    (base / "p3.toml").write_text(ORDER.replace('"P1"', '"P3"'), encoding="utf-8")
    ok(base, "rent", "p3.toml", "--out", "d2")
    with (base / "d2" / "decisions.csv").open(encoding="utf-8-sig") as f:
        rows = {
            (r["contact_id"], r["channel"]): r["reasons"] for r in csv.DictReader(f, delimiter=";")
        }
    assert rows[("C1", "email")] == "partner_not_disclosed"
    assert rows[("C1", "postal")] == "partner_not_disclosed"


def test_an_opposition_received_by_letter_names_the_person_by_address(tmp_path: Path) -> None:
    ok(tmp_path, "init")
    write_csv(tmp_path / "contacts.csv", [contact("C1"), contact("C2", first_name="Paul")])
    ok(tmp_path, "import", "contacts", "contacts.csv")
    address = ["--street", "12 rue de la Paix", "--postal-code", "75002", "--city", "Paris"]
    said = ok(
        tmp_path,
        "oppose",
        "--channel",
        "postal",
        "--last-name",
        "Exemple",
        "--first-name",
        "Marie",
        *address,
        "--via",
        "letter",
    )
    assert "covers 1 contact(s)" in said  # Marie, not Paul at the same address
    err = user_error(tmp_path, "oppose", "--channel", "postal", "--last-name", "Exemple")
    assert "postal code" in err
    err = user_error(
        tmp_path, "oppose", "--channel", "postal", "--last-name", "X", "--email", "a@b.fr", *address
    )
    assert "not both" in err


def test_accounts_and_keys_are_listed_disabled_and_revoked(
    base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LISTGUARD_PASSWORD", "a long enough password")  # read by the child
    ok(base, "accounts", "add", "Ops@Example.com", "--role", "operator")
    assert "ops@example.com" in ok(base, "accounts", "list")
    key = ok(base, "api-key", "create", "--partner", "P1", "--label", "sftp").strip()
    prefix = key.split("_")[1]
    listed = ok(base, "api-key", "list")
    assert prefix in listed and key not in listed and "deliveries:read" in listed
    assert f"key {prefix} revoked" in ok(base, "api-key", "revoke", prefix)
    assert "no live key" in user_error(base, "api-key", "revoke", prefix)
    # the owner API's scopes are granted by name; an unknown one is refused with the list
    crm = ok(base, "api-key", "create", "--scope", "rentals:preview", "--scope", "rentals:deliver")
    assert crm.startswith("lg_") and "rentals:deliver" in ok(base, "api-key", "list")
    # a key made without --scope (a web form's) never holds them
    forms = ok(base, "api-key", "create").strip().split("_")[1]
    row = next(r for r in ok(base, "api-key", "list").splitlines() if forms in r)
    assert "oppositions:write" in row and "rentals:" not in row and "decisions:" not in row
    assert "deliveries:read" not in row
    refused = user_error(base, "api-key", "create", "--scope", "rentals:write")
    assert "rentals:write" in refused
    assert all(s in refused for s in ("decisions:read", "rentals:preview", "deliveries:read"))
    assert "disabled" in ok(base, "accounts", "disable", "ops@example.com")
    assert "no enabled account" in user_error(base, "accounts", "disable", "ops@example.com")
    row = next(r for r in ok(base, "accounts", "list").splitlines() if "ops@" in r)
    assert len(row.split()) == 4  # email, role, created, disabled
