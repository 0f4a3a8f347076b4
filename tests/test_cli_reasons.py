"""Every case of the reason table that fits in one base, end to end through the CLI.

The cases of ``test_rules.py`` that keep the default partners, screenings and
order are put together in one registry (one contact each, with coordinates of
its own), imported and rented with the ``listguard`` command, once per rule
pack; each contact's decisions must be those of its case.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from listguard.cli.main import run
from tests.scenario import ALL_CHANNELS, contact, partner, write_csv
from tests.test_rules import CASES, PACKS, Case

MERGEABLE = [c for c in CASES if c.partners is None and not c.order]
OK = "OK"


def _personal(
    i: int, case: Case, day: dt.date
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], list[tuple[str, str, str]]]:
    """The case's contact, events, suppressions and Bloctel results (date, number, result),
    with coordinates unique to contact ``i``."""
    cid = f"K{i:03d}"
    email = f"k{i}@example.com"
    mobile = f"06 12 34 {i // 100:02d} {i % 100:02d}"
    street = f"{i} rue de la Paix"
    row = contact(cid, email=email, mobile=mobile, address_line4=street, first_name=f"P{i}")
    row.update(case.contact)
    events = []
    for e in case.events:
        e = {**e}
        if e.get("contact_id") == "C1":
            e["contact_id"] = cid
        if e.get("email"):
            e["email"] = email.upper()
        if e.get("phone"):
            e["phone"] = "+33" + mobile.replace(" ", "")[1:]
        events.append(e)
    supp = []
    for s in case.suppression:
        s = {**s}
        if s.get("email"):
            s["email"] = email
        if s.get("phone"):
            s["phone"] = mobile
        if s.get("address_line4"):
            s["address_line4"] = street.upper()
        supp.append(s)
    number = str(row["mobile"]).replace(" ", "")
    if case.screenings is None:
        screened = [(str(day - dt.timedelta(days=3)), number, OK)]
    else:
        screened = [(str(d), number, r) for d, results in case.screenings for r in results.values()]
    return row, events, supp, screened


def cli(*args: str) -> None:
    with pytest.raises(SystemExit) as done:
        run(list(args))
    assert done.value.code in (0, None)


@pytest.mark.parametrize("pack", list(PACKS))
def test_reason_table_through_the_cli(
    tmp_path: Path, pack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    day = dt.date.fromisoformat(PACKS[pack])
    contacts, events, supp = [], [], []
    screenings: dict[str, list[dict[str, Any]]] = {}
    for i, case in enumerate(MERGEABLE):
        row, ev, sp, screened = _personal(i, case, day)
        contacts.append(row)
        events += ev
        supp += sp
        for date, number, result in screened:
            if len(number) == 10:
                rows = screenings.setdefault(date, [])
                rows.append({"Telephone": number, "Identifiant": len(rows) + 1, "Resultat": result})
    db = ["--db", f"sqlite:///{tmp_path / 'reg.db'}"]
    cli(*db, "init")
    cli(*db, "import", "partners", str(write_csv(tmp_path / "p.csv", [partner()])))
    cli(*db, "import", "contacts", str(write_csv(tmp_path / "c.csv", contacts)))
    cli(*db, "import", "events", str(write_csv(tmp_path / "e.csv", events)))
    cli(*db, "import", "suppression", str(write_csv(tmp_path / "s.csv", supp)))
    for date, rows in screenings.items():
        result_file = write_csv(tmp_path / f"bloctel-{date}.csv", rows)
        cli(*db, "bloctel", "import", str(result_file), "--screened-at", date)
    order = tmp_path / "order.toml"
    order.write_text(
        f'partner = "P1"\nchannels = {list(ALL_CHANNELS)!r}\npurpose = "Offre test"\n'.replace(
            "'", '"'
        )
        + f"campaign_start = {day + dt.timedelta(days=3)}\n"
        f"campaign_end = {day + dt.timedelta(days=33)}\nas_of = {day}\n",
        encoding="utf-8",
    )
    cli(*db, "rent", str(order), "--out", str(tmp_path / "out"))
    capsys.readouterr()
    with (tmp_path / "out" / "decisions.csv").open(encoding="utf-8-sig") as f:
        got: dict[str, dict[str, str]] = {}
        for r in csv.DictReader(f, delimiter=";"):
            got.setdefault(r["contact_id"], {})[r["channel"]] = r["reasons"]
    for i, case in enumerate(MERGEABLE):
        expected = dict.fromkeys(ALL_CHANNELS, "") | (
            case.fr2016 if pack == "fr-2016" else case.fr2026
        )
        if case.no_row:  # an erased contact: no decision row at all
            assert f"K{i:03d}" not in got, case.id
            continue
        assert got[f"K{i:03d}"] == expected, case.id
