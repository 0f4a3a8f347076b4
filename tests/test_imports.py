"""Imports: every format of formats.md, rejects with line and column, idempotence, atomicity."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, text

from listguard.errors import FileFormatError
from listguard.imports import contacts as contacts_module
from listguard.imports import import_file
from tests.scenario import contact, partner, write_csv


def _rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as f:
        return list(csv.DictReader(f, delimiter=";"))


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiters_are_detected(engine: Engine, tmp_path: Path, delimiter: str) -> None:
    path = write_csv(tmp_path / "c.csv", [contact("C1"), contact("C2")], delimiter=delimiter)
    report = import_file(engine, "contacts", path)
    assert (report.rows_new, report.rows_rejected) == (2, 0)


def test_windows_1252_is_read(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "c.csv", [contact(first_name="Hélène", last_name="Lœuvre")], encoding="cp1252"
    )
    import_file(engine, "contacts", path)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT first_name, last_name FROM contacts")).one()
    assert tuple(row) == ("Hélène", "Lœuvre")


def test_utf8_bom_and_case_insensitive_header(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        "\ufeffContact_ID ; Collected_At;EMAIL\nC1;2026-01-10;a@example.com\n", encoding="utf-8"
    )
    report = import_file(engine, "contacts", path)
    assert report.rows_new == 1


def test_wrong_encoding_is_a_clear_error(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("contact_id;collected_at\nC1;2026-01-10\n", encoding="utf-16")
    with pytest.raises(FileFormatError, match="UTF-16"):
        import_file(engine, "contacts", path)
    assert _count(engine, "imports") == 0


def test_wrong_delimiter_names_the_problem(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", [contact()], delimiter="|")
    with pytest.raises(FileFormatError, match="delimiter"):
        import_file(engine, "contacts", path)


def test_missing_required_column(engine: Engine, tmp_path: Path) -> None:
    rows = [{k: v for k, v in contact().items() if k != "collected_at"}]
    with pytest.raises(FileFormatError, match="collected_at"):
        import_file(engine, "contacts", write_csv(tmp_path / "c.csv", rows))


def test_bad_rows_go_to_rejects_with_line_column_value(engine: Engine, tmp_path: Path) -> None:
    rows = [
        contact("C1"),
        contact("C2", collected_at="2026-02-30"),  # impossible date
        contact("C3", partners_email="oui"),  # unknown choice value
        contact("C4"),
        contact("C4", first_name="Autre"),  # duplicate contact_id: both lines rejected
        contact("", email="x@example.com"),
        contact("C5", email="not-an-email", mobile="06 12"),  # kept: invalid coordinates
    ]
    report = import_file(engine, "contacts", write_csv(tmp_path / "c.csv", rows))
    assert (report.rows_read, report.rows_new, report.rows_rejected) == (7, 2, 5)
    rejects = _rejects(report.rejects_path)  # type: ignore[arg-type]
    got = {(r["line"], r["column"], r["value"]) for r in rejects}
    assert got == {
        ("3", "collected_at", "2026-02-30"),
        ("4", "partners_email", "oui"),
        ("5", "contact_id", "C4"),
        ("6", "contact_id", "C4"),
        ("7", "contact_id", ""),
    }
    assert all(r["message"] for r in rejects)
    with engine.connect() as conn:
        c5 = conn.execute(
            text(
                "SELECT email, email_status, mobile, mobile_type FROM contacts "
                "WHERE contact_id = 'C5'"
            )
        ).one()
    assert tuple(c5) == ("not-an-email", "invalid", "06 12", "invalid")


def test_reimport_is_idempotent_and_changes_are_versioned(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", [contact("C1"), contact("C2")])
    first = import_file(engine, "contacts", path)
    again = import_file(engine, "contacts", path)
    assert (first.rows_new, again.rows_new, again.rows_changed, again.rows_unchanged) == (
        2,
        0,
        0,
        2,
    )
    changed = write_csv(
        tmp_path / "c2.csv", [contact("C1", partners_email="objection"), contact("C2")]
    )
    third = import_file(engine, "contacts", changed)
    assert (third.rows_new, third.rows_changed, third.rows_unchanged) == (0, 1, 1)
    with engine.connect() as conn:
        versions = conn.execute(
            text(
                "SELECT version, partners_email FROM contact_history "
                "WHERE contact_id = 'C1' ORDER BY version"
            )
        ).all()
        superseded = conn.execute(
            text("SELECT version FROM contact_versions WHERE contact_id = 'C1'")
        ).all()
    assert [tuple(v) for v in versions] == [(1, "consent"), (2, "objection")]
    assert [tuple(v) for v in superseded] == [(1,)]  # the current version is the row itself


@pytest.mark.parametrize("phase", ["staging", "merge"])
def test_interrupted_import_leaves_the_registry_as_it_was(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, phase: str
) -> None:
    from listguard.storage.sqlite.fetch import Scratch

    import_file(engine, "contacts", write_csv(tmp_path / "a.csv", [contact("C0")]))
    rows = [contact(f"C{i}", email=f"c{i}@example.com") for i in range(1, 2500)]
    path = write_csv(tmp_path / "c.csv", rows)
    calls = {"n": 0}
    if phase == "staging":  # the second batch never reaches the scratch table
        real_append = Scratch.append

        def append(self: Scratch, *args: Any) -> None:
            calls["n"] += 1
            if calls["n"] == 3:  # batch 2's contacts (each batch stages contacts and ids)
                raise KeyboardInterrupt
            real_append(self, *args)

        monkeypatch.setattr(Scratch, "append", append)
    else:  # the contacts are written, then the process stops before the commit
        real_upsert = contacts_module.upsert_versioned  # type: ignore[attr-defined]

        def upsert(*args: Any, **kwargs: Any) -> None:
            calls["n"] += 1
            real_upsert(*args, **kwargs)
            raise KeyboardInterrupt

        monkeypatch.setattr(contacts_module, "upsert_versioned", upsert)
    monkeypatch.setattr("listguard.io.tabular.BATCH_ROWS", 1000)
    with pytest.raises(KeyboardInterrupt):
        import_file(engine, "contacts", path)
    assert calls["n"] >= 1
    assert _count(engine, "contacts") == 1
    assert _count(engine, "imports") == 1
    assert not (tmp_path / "c.rejects.csv").exists()


def test_unknown_columns_are_kept(engine: Engine, tmp_path: Path) -> None:
    report = import_file(
        engine, "contacts", write_csv(tmp_path / "c.csv", [contact(loyalty="gold")])
    )
    assert report.unknown_columns == ["loyalty"]
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT attributes FROM contacts")).scalar_one()
            == '{"loyalty":"gold"}'
        )


def test_xlsx_and_parquet(engine: Engine, tmp_path: Path) -> None:
    from openpyxl import Workbook

    rows = [contact("C1", mobile="612345678"), contact("C2", email="c2@example.com")]
    wb = Workbook()
    ws = wb.active
    ws.append(list(rows[0]))
    for r in rows:
        ws.append([612345678 if k == "mobile" and v == "612345678" else v for k, v in r.items()])
    wb.save(tmp_path / "c.xlsx")
    assert import_file(engine, "contacts", tmp_path / "c.xlsx").rows_new == 2
    with engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT mobile_e164 FROM contacts WHERE contact_id='C1'")
            ).scalar_one()
            == "+33612345678"
        )
    pl.DataFrame([contact("C3"), contact("C4")]).write_parquet(tmp_path / "c.parquet")
    assert import_file(engine, "contacts", tmp_path / "c.parquet").rows_new == 2


def test_events_partners_suppression(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, "contacts", write_csv(tmp_path / "c.csv", [contact()]))
    report = import_file(
        engine,
        "partners",
        write_csv(
            tmp_path / "p.csv",
            [
                partner(),
                partner("P2", sector="lobbying"),
                partner("P3", listed_from="2026-05-01", listed_until="2026-01-01"),
            ],
        ),
    )
    assert (report.rows_new, report.rows_rejected) == (1, 2)
    events = [
        {
            "contact_id": "C1",
            "event": "opposition",
            "channel": "",
            "scope": "",
            "at": "2026-03-01",
            "via": "letter",
        },
        {
            "email": "marie.exemple@example.com",
            "event": "consent",
            "channel": "email",
            "scope": "partners",
            "at": "2026-03-01",
        },
        {
            "contact_id": "C1",
            "event": "unsubscribe",
            "channel": "all",
            "scope": "all",
            "at": "2026-03-01",
        },
        {
            "contact_id": "C1",
            "event": "consent",
            "channel": "fax",
            "scope": "all",
            "at": "2026-03-01",
        },
        {"event": "opposition", "channel": "all", "scope": "all", "at": "2026-03-01"},
    ]
    path = write_csv(tmp_path / "e.csv", events)
    report = import_file(engine, "events", path)
    assert (report.rows_new, report.rows_rejected) == (2, 3)
    assert import_file(engine, "events", path).rows_new == 0  # the same events are recorded once
    with engine.connect() as conn:
        row = conn.execute(text("SELECT channel, scope FROM events WHERE event='opposition'")).one()
    assert tuple(row) == ("all", "all")  # an opposition without channel covers all channels
    supp = import_file(
        engine,
        "suppression",
        write_csv(
            tmp_path / "s.csv",
            [
                {
                    "list": "robinson",
                    "phone": "06 12 34 56 78",
                    "email": "",
                    "added_at": "2026-01-01",
                },
                {"list": "robinson", "phone": "12", "email": "", "added_at": "2026-01-01"},
                {"list": "", "phone": "", "email": "x@example.com", "added_at": ""},
                {
                    "list": "robinson",
                    "phone": "Tél. 07 51 23 45 67 poste 3",
                    "email": "",
                    "added_at": "",
                },
                {
                    "list": "robinson",
                    "phone": "06 11 22 33 44 / 01 44 55 66 77",
                    "email": "",
                    "added_at": "",
                },
            ],
        ),
    )
    assert (supp.rows_new, supp.rows_rejected) == (2, 3)
    messages = {r["value"]: r["message"] for r in _rejects(supp.rejects_path)}  # type: ignore[arg-type]
    assert messages["12"] == "not a valid phone number"
    assert "two phone numbers in one cell" in messages["06 11 22 33 44 / 01 44 55 66 77"]
    with engine.connect() as conn:
        listed = (
            conn.execute(text("SELECT value FROM suppressions WHERE kind = 'phone'"))
            .scalars()
            .all()
        )
    assert "+33751234567" in listed


def test_dates_after_the_import_are_rejected(engine: Engine, tmp_path: Path) -> None:
    """A date that records something that happened cannot be after the import: such an
    opposition would be recorded and ignored by every rental (dated after as_of)."""
    import datetime as dt

    from listguard.timeutil import now_ts, to_iso, today

    tomorrow = (today() + dt.timedelta(days=1)).isoformat()
    in_a_minute, in_a_day = to_iso(now_ts() + 60), to_iso(now_ts() + 86_400)
    report = import_file(
        engine,
        "contacts",
        write_csv(
            tmp_path / "c.csv",
            [
                contact("C1", collected_at=in_a_minute),  # a clock a little ahead
                contact("C2", collected_at="9999-12-31"),
                contact("C3", birth_date=tomorrow),
                contact("C4", birth_date="1980-05-02"),
            ],
        ),
    )
    assert (report.rows_new, report.rows_rejected) == (2, 2)
    assert [(r["line"], r["column"]) for r in _rejects(report.rejects_path)] == [  # type: ignore[arg-type]
        ("3", "collected_at"),
        ("4", "birth_date"),
    ]
    events = [
        {"contact_id": "C1", "event": "opposition", "at": at, "via": "letter"}
        for at in ("9999-12-31", f"{tomorrow[8:]}/{tomorrow[5:7]}/{tomorrow[:4]}", in_a_day)
    ] + [{"contact_id": "C1", "event": "opposition", "at": "2026-03-01", "via": "letter"}]
    report = import_file(engine, "events", write_csv(tmp_path / "e.csv", events))
    assert (report.rows_new, report.rows_rejected) == (1, 3)
    assert {r["message"] for r in _rejects(report.rejects_path)} == {  # type: ignore[arg-type]
        "at is after the import: an event is recorded once it has happened"
    }
    report = import_file(
        engine,
        "partners",
        write_csv(
            tmp_path / "p.csv",
            [partner("P1", listed_until="2099-12-31"), partner("P2", listed_from=tomorrow)],
        ),
    )
    assert (report.rows_new, report.rows_rejected) == (1, 1)  # listed_until may be ahead
    report = import_file(
        engine,
        "suppression",
        write_csv(
            tmp_path / "s.csv",
            [
                {"list": "robinson", "email": "a@example.com", "added_at": "2026-01-01"},
                {"list": "robinson", "email": "b@example.com", "added_at": in_a_day},
            ],
        ),
    )
    assert (report.rows_new, report.rows_rejected) == (1, 1)


def test_line_numbers_stay_true_after_rows_that_cannot_be_split(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        "contact_id;collected_at;partners_email\n"
        "C1;2026-01-10;consent\n"
        "C2;2026-01-10;consent;extra\n"  # line 3: one field too many
        "C3;2026-01-10;oui\n"  # line 4: unknown choice
        "C4\n"  # line 5: too few fields
        "C5;2026-02-30;consent\n",  # line 6: impossible date
        encoding="utf-8",
    )
    report = import_file(engine, "contacts", path)
    assert (report.rows_read, report.rows_new, report.rows_rejected) == (5, 1, 4)
    rejects = _rejects(report.rejects_path)  # type: ignore[arg-type]
    assert [(r["line"], r["column"]) for r in rejects] == [
        ("3", ""),
        ("4", "partners_email"),
        ("5", ""),
        ("6", "collected_at"),
    ]


def test_xlsx_line_numbers_count_empty_rows(engine: Engine, tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["contact_id", "collected_at"])
    ws.append(["C1", "2026-01-10"])
    ws.append([None, None])  # an empty row of the sheet
    ws.append(["C2", "31/02/2026"])
    wb.save(tmp_path / "c.xlsx")
    report = import_file(engine, "contacts", tmp_path / "c.xlsx")
    rejects = _rejects(report.rejects_path)  # type: ignore[arg-type]
    assert [(r["line"], r["column"]) for r in rejects] == [("4", "collected_at")]


@pytest.mark.parametrize(
    ("kind", "header"),
    [
        ("contacts", "contact_id;collected_at"),
        ("events", "event;at"),
        ("partners", "partner_id;name;category"),
        ("suppression", "list"),
    ],
)
def test_a_file_without_rows_imports_nothing(
    any_engine: Engine, tmp_path: Path, kind: str, header: str
) -> None:
    path = tmp_path / f"{kind}.csv"
    path.write_text(header + "\n", encoding="utf-8")
    report = import_file(any_engine, kind, path)
    assert (report.rows_read, report.rows_new, report.rows_rejected) == (0, 0, 0)
    assert _count(any_engine, "imports") == 1


def test_merge_rejects_every_line_of_a_repeated_id_and_keeps_the_rest(
    any_engine: Engine, tmp_path: Path
) -> None:
    rows = [contact("C1"), contact("C2"), contact("C1", email="other@example.com"), contact("C3")]
    report = import_file(any_engine, "contacts", write_csv(tmp_path / "c.csv", rows))
    assert (report.rows_new, report.rows_rejected) == (2, 2)
    assert report.rejects_path is not None
    rejects = pl.read_csv(report.rejects_path, separator=";", infer_schema=False)
    assert rejects["line"].to_list() == ["2", "4"]
    assert set(rejects["message"]) == {contacts_module.DUPLICATE_ID}
    with any_engine.connect() as conn:
        ids = conn.execute(text("SELECT contact_id FROM contacts ORDER BY contact_id")).scalars()
        assert list(ids) == ["C2", "C3"]


def test_one_event_keys_as_a_whole_file_does() -> None:
    import polars as pl

    from listguard.imports.events import KEY_FIELDS, event_key, event_key_expr

    rows = [
        {"contact_id": "C1", "event": "opposition", "channel": "all", "scope": "all", "at": 1},
        {
            "email_norm": "élodie@exemple.fr",
            "event": "consent",
            "channel": "email",
            "scope": "partner:P2",
            "at": 1_764_000_000,
            "via": "web_form",
            "detail": "a;b",
        },
        {
            "phone_e164": "+33612345678",
            "event": "erasure",
            "channel": "all",
            "scope": "all",
            "at": 0,
            "detail": "",
        },
    ]
    columns = {c: pl.String for c in (*KEY_FIELDS, "detail")} | {"at": pl.Int64}
    frame = pl.DataFrame([{c: r.get(c) for c in columns} for r in rows], schema=columns)
    assert frame.select(event_key_expr())["event_key"].to_list() == [event_key(r) for r in rows]


def _loaded(engine: Engine) -> list[tuple[Any, ...]]:
    """Every contact as stored, and the indexes of the table."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM contacts ORDER BY contact_id")).all()
        indexes = conn.execute(
            text("SELECT name FROM sqlite_master WHERE tbl_name = 'contacts' ORDER BY name")
        ).scalars()
        return [tuple(r)[1:] for r in rows] + [tuple(indexes)]


def test_a_first_load_stores_what_a_merge_stores(
    engine: Engine, sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Into an empty table the rows are streamed straight in (no merge): same contacts,
    same rejects, same indexes, ids repeated across batches included."""
    from tests.conftest import _sqlite_engine

    monkeypatch.setattr("listguard.io.tabular.BATCH_ROWS", 4)
    monkeypatch.setattr("listguard.imports.first_load.FIRST_LOAD_MIN_BYTES", 0)
    rows = [contact(f"C{i}", email=f"c{i}@example.com", loyalty="gold") for i in range(12)]
    rows[9] = contact("C2", email="again@example.com")  # C2 again, two batches later
    rows[5] = contact("C5", collected_at="31/02/2026")  # a bad row...
    rows.append(contact("C5"))  # ...whose id is on another line: both lines rejected
    path = write_csv(tmp_path / "c.csv", rows)
    from listguard.storage.sqlite.writer import BulkWriter

    commits: list[str] = []
    real_commit = BulkWriter.commit

    def commit(writer: BulkWriter) -> None:
        commits.append("first load")
        real_commit(writer)

    monkeypatch.setattr(BulkWriter, "commit", commit)
    first = import_file(engine, "contacts", path, rejects_path=tmp_path / "first.csv")
    other = tmp_path / "other"
    other.mkdir()
    merged_engine = next(_sqlite_engine(sqlite_template, other))
    import_file(merged_engine, "contacts", write_csv(other / "seed.csv", [contact("A0")]))
    # the table is no longer empty: the merge runs
    merged = import_file(merged_engine, "contacts", path, rejects_path=tmp_path / "m.csv")
    with merged_engine.begin() as conn:
        conn.execute(text("DELETE FROM contacts WHERE contact_id = 'A0'"))
    assert (
        (first.rows_new, first.rows_rejected)
        == (merged.rows_new, merged.rows_rejected)
        == (
            9,
            4,
        )
    )
    assert first.unknown_columns == merged.unknown_columns == ["loyalty"]
    assert _rejects(tmp_path / "first.csv") == _rejects(tmp_path / "m.csv")

    def comparable(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        # import_id and recorded_at (the last columns but version) differ by design
        return [r[:-3] + r[-1:] for r in rows[:-1]] + rows[-1:]

    assert comparable(_loaded(engine)) == comparable(_loaded(merged_engine))
    assert _count(engine, "imports") == 1
    # the file into the empty table and the seed file were first loads, the other a merge
    assert len(commits) == 2


def test_a_first_load_survives_keys_whose_hashes_collide(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows held back because their key's hash was seen are written at the end."""
    import numpy as np

    from listguard.imports import first_load as loading

    monkeypatch.setattr(loading, "_key_hashes", lambda keys: np.zeros(len(keys), np.uint64))
    monkeypatch.setattr("listguard.io.tabular.BATCH_ROWS", 3)
    monkeypatch.setattr("listguard.imports.first_load.FIRST_LOAD_MIN_BYTES", 0)
    rows = [contact(f"C{i}") for i in range(8)] + [contact("C3")]
    report = import_file(engine, "contacts", write_csv(tmp_path / "c.csv", rows))
    assert (report.rows_new, report.rows_rejected) == (7, 2)
    with engine.connect() as conn:
        ids = conn.execute(text("SELECT contact_id FROM contacts ORDER BY contact_id")).scalars()
        assert list(ids) == ["C0", "C1", "C2", "C4", "C5", "C6", "C7"]


def _copy_parts(engine: Engine) -> list[str]:
    import json

    folder = Path(f"{engine.url.database}-arrow") / "contacts"
    if not (folder / "meta.json").exists():
        return []
    parts: list[str] = json.loads((folder / "meta.json").read_text(encoding="utf-8"))["parts"]
    return parts


@pytest.mark.parametrize("collide", [False, True])
def test_a_first_load_writes_the_columnar_copy_the_next_rental_reads(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collide: bool
) -> None:
    """The rows a first load writes go to the contacts' columnar copy too, with the keys
    SQLite holds them under: the next read of the copy finds exactly the registry's rows
    and reads none from SQLite (it keeps the copy as the load named it). Rows deleted
    (an id on several lines) and rows held back (every hash colliding) included."""
    from dataclasses import replace

    import numpy as np

    from listguard.imports import first_load as loading
    from listguard.rules.extracts import contacts_copy_query
    from listguard.storage.open import open_storage

    monkeypatch.setattr("listguard.io.tabular.BATCH_ROWS", 4)
    monkeypatch.setattr(loading, "FIRST_LOAD_MIN_BYTES", 0)
    if collide:
        monkeypatch.setattr(loading, "_key_hashes", lambda keys: np.zeros(len(keys), np.uint64))
    rows = [
        contact(f"C{i}", email=f"c{i}@example.com", phone=f"01 40 00 00 {i:02d}", city=f"V{i}")
        for i in range(12)
    ]
    rows[9] = contact("C2", email="again@example.com")  # C2 on two lines: neither is loaded
    rows[10] = contact("C10", address_line4="", postal_code="", city="")  # nulls
    report = import_file(engine, "contacts", write_csv(tmp_path / "c.csv", rows))
    assert (report.rows_new, report.rows_rejected) == (10, 2)
    parts = _copy_parts(engine)
    assert len(parts) == 1
    query = contacts_copy_query()
    with engine.connect() as conn:
        copied = open_storage(engine).read_arrow({"c": query}, conn)["c"]
        stored = open_storage(engine).read_arrow({"c": replace(query, copy=None)}, conn)["c"]
    assert copied.sort_by("cid").equals(stored.sort_by("cid"))
    assert sorted(copied["contact_id"].to_pylist()) == sorted(
        f"C{i}" for i in range(12) if i not in (2, 9)
    )
    assert _copy_parts(engine) == parts  # used as the load left it, not made again


def test_a_columnar_copy_that_cannot_be_written_does_not_stop_the_import(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy is a cache: a disk that refuses it leaves the import whole, and no part."""
    from listguard.imports import first_load as loading
    from listguard.storage.sqlite.reader import CopyWriter

    monkeypatch.setattr(loading, "FIRST_LOAD_MIN_BYTES", 0)
    monkeypatch.setattr("listguard.io.tabular.BATCH_ROWS", 4)
    real_write = CopyWriter.write
    calls: list[int] = []

    def write(self: CopyWriter, rows: Any, keys: Any) -> None:
        calls.append(rows.num_rows)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real_write(self, rows, keys)

    monkeypatch.setattr(CopyWriter, "write", write)
    path = write_csv(tmp_path / "c.csv", [contact(f"C{i}") for i in range(12)])
    assert import_file(engine, "contacts", path).rows_new == 12
    assert _count(engine, "contacts") == 12
    folder = Path(f"{engine.url.database}-arrow") / "contacts"
    assert _copy_parts(engine) == [] and not list(folder.glob("part-*"))


def test_a_first_load_that_finds_the_table_written_meanwhile_imports_nothing(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table was empty when the import chose a first load, and another import wrote
    it before the load's transaction began: the load stops, says so, writes nothing."""
    from listguard.errors import ListguardError
    from listguard.imports import first_load as loading

    monkeypatch.setattr(loading, "FIRST_LOAD_MIN_BYTES", 0)
    chosen = loading.begin_first_load
    raced: list[bool] = []

    def racing(storage: Any, spec: Any, file: Path) -> Any:
        writer = chosen(storage, spec, file)
        if not raced:  # the other import, itself a first load, commits first
            raced.append(True)
            import_file(engine, "contacts", write_csv(tmp_path / "other.csv", [contact("X1")]))
        return writer

    monkeypatch.setattr(loading, "begin_first_load", racing)
    path = write_csv(tmp_path / "c.csv", [contact(f"C{i}") for i in range(20)])
    with pytest.raises(ListguardError, match="another import wrote contacts"):
        import_file(engine, "contacts", path)
    with engine.connect() as conn:
        ids = conn.execute(text("SELECT contact_id FROM contacts")).scalars().all()
    assert ids == ["X1"] and _count(engine, "imports") == 1
    assert not (tmp_path / "c.rejects.csv").exists()


@pytest.mark.parametrize("when", ["streaming", "before the commit", "writer killed"])
def test_an_interrupted_first_load_leaves_the_registry_as_it_was(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    from listguard.errors import ListguardError
    from listguard.storage.sqlite.writer import BulkWriter

    monkeypatch.setattr("listguard.io.tabular.BATCH_ROWS", 500)
    monkeypatch.setattr("listguard.imports.first_load.FIRST_LOAD_MIN_BYTES", 0)
    path = write_csv(tmp_path / "c.csv", [contact(f"C{i}") for i in range(2000)])
    real_ingest, real_commit = BulkWriter.ingest, BulkWriter.commit
    expected: type[BaseException] = KeyboardInterrupt

    if when == "streaming":  # the third batch is never staged

        def ingest(self: BulkWriter, table: str, schema: Any, batches: Any, **kw: Any) -> int:
            def some() -> Any:
                for n, batch in enumerate(batches):
                    if n == 2:
                        raise KeyboardInterrupt
                    yield batch

            return real_ingest(self, table, schema, some(), **kw)

        monkeypatch.setattr(BulkWriter, "ingest", ingest)
    elif when == "before the commit":

        def commit(self: BulkWriter) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(BulkWriter, "commit", commit)
    else:  # the child dies: the parent reports it
        expected = ListguardError

        def commit(self: BulkWriter) -> None:
            self._child.kill()
            self._child.wait()
            real_commit(self)

        monkeypatch.setattr(BulkWriter, "commit", commit)
    with pytest.raises(expected):
        import_file(engine, "contacts", path)
    assert _count(engine, "contacts") == 0
    assert _count(engine, "imports") == 0
    assert not (tmp_path / "c.rejects.csv").exists()
    # the columnar copy the load was writing is gone too
    assert not list((Path(f"{engine.url.database}-arrow") / "contacts").glob("part-*"))
    monkeypatch.undo()
    monkeypatch.setattr("listguard.imports.first_load.FIRST_LOAD_MIN_BYTES", 0)
    assert import_file(engine, "contacts", path).rows_new == 2000  # and nothing is locked


@pytest.mark.parametrize("first_load", [True, False])
def test_batches_staged_at_once_are_written_in_the_file_order(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first_load: bool
) -> None:
    """Staging threads may finish out of order (here the first batch of every pair is the
    slowest): the rows, rejects and progress still follow the file."""
    import time
    from dataclasses import replace

    from listguard.imports import first_load as loading

    monkeypatch.setattr("listguard.io.tabular.BATCH_ROWS", 3)
    monkeypatch.setattr(loading, "FIRST_LOAD_MIN_BYTES", 0 if first_load else 10**12)
    real_steps = contacts_module.KIND.steps

    def slow_steps(tab: Any, engine: Engine) -> Any:
        steps = real_steps(tab, engine)
        real_stage = steps.stage

        def stage(batch: Any, rejects: Any) -> Any:
            if (batch.first_line // 3) % 2 == 0:
                time.sleep(0.05)
            return real_stage(batch, rejects)

        return replace(steps, stage=stage)

    monkeypatch.setattr(contacts_module, "KIND", replace(contacts_module.KIND, steps=slow_steps))
    rows = [contact(f"C{(i * 7) % 30:02d}") for i in range(30)]
    rows[4] = contact("X4", collected_at="not a date")
    seen: list[int] = []
    report = import_file(
        engine,
        "contacts",
        write_csv(tmp_path / "c.csv", rows),
        rejects_path=tmp_path / "rejects.csv",
        progress=seen.append,
    )
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT contact_id FROM contacts ORDER BY id")).scalars().all()
    assert stored == [r["contact_id"] for i, r in enumerate(rows) if i != 4]
    assert report.rows_new == 29 and report.rows_rejected == 1
    assert seen == [3] * 10
