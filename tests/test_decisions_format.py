"""``decisions.parquet`` (``[delivery] decisions_format``): the same rows as
``decisions.csv``, in the same order, with the values as they are; the manifest names
the file written; "auto" keeps the CSV while it fits a spreadsheet's sheet."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine

from listguard.config import DeliverySettings, Settings, load_settings
from listguard.errors import InputError
from listguard.io.formula import restore
from listguard.renting.deliver import rent
from listguard.renting.order import parse_order
from listguard.rules import decision as decision_module
from tests.scenario import Scenario, contact, listguard, partner, write_csv

COLUMNS = ["contact_id", "channel", "coordinate", "decision", "reasons"]
CHANNELS = ("postal", "phone", "sms", "email")


def _contacts() -> list[dict[str, str]]:
    return [
        contact("C1"),
        contact("C2", email="=1+1@example.com", phone="+1+1", mobile="06 98 76 54 32"),
        contact("=HYPERLINK(1)", first_name="=2+2", mobile="06 11 22 33 44"),
        contact("C4", email="", phone="", mobile=""),
        contact("C5", email="c1@example.com"),  # a duplicate of C1's address
    ]


def _csv_rows(path: Path) -> list[list[str | None]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=";")
        assert next(reader) == COLUMNS
        # what a program reading the CSV back gets: one quote less where one was added,
        # and no value where the cell is empty
        return [[restore(c) if c else None for c in row] for row in reader]


def _manifest(folder: Path) -> dict[str, object]:
    manifest: dict[str, object] = json.loads((folder / "manifest.json").read_text("utf-8"))
    return manifest


def _rent(sc: Scenario, fmt: str, out: str) -> Path:
    settings = Settings(delivery=DeliverySettings(decisions_format=fmt))
    order = parse_order(
        'partner = "P1"\nchannels = ["postal", "phone", "sms", "email"]\n'
        'purpose = "Offre test"\ncampaign_start = 2026-12-01\ncampaign_end = 2026-12-31\n'
        "as_of = 2026-11-28\n"
    )
    rent(sc.engine, order, sc.tmp / out, settings)
    return sc.tmp / out


def test_parquet_holds_the_csv_rows_in_the_same_order_with_values_as_they_are(
    any_engine: Engine, tmp_path: Path
) -> None:
    sc = Scenario(any_engine, tmp_path, contacts=_contacts())
    sc.load()
    as_csv = _rent(sc, "csv", "as-csv")
    as_parquet = _rent(sc, "parquet", "as-parquet")
    assert not (as_csv / "decisions.parquet").exists()
    assert not (as_parquet / "decisions.csv").exists()
    table = pq.read_table(as_parquet / "decisions.parquet")
    assert table.column_names == COLUMNS
    rows = [list(r.values()) for r in table.to_pylist()]
    # a CSV cell cannot tell an empty text (a missing coordinate) from no value
    assert [[c or None for c in r] for r in rows] == _csv_rows(as_csv / "decisions.csv")
    # the values themselves: the owner's id and the number as given, unquoted
    assert ["=HYPERLINK(1)", "postal"] in [r[:2] for r in rows]
    assert ["C2", "phone", "+1+1", "excluded", "invalid_coordinate"] in rows
    assert [r[1] for r in rows] == sorted((r[1] for r in rows), key=CHANNELS.index)
    for folder, name in ((as_csv, "decisions.csv"), (as_parquet, "decisions.parquet")):
        manifest = _manifest(folder)
        assert manifest["decisions_file"] == name
        files = manifest["files"]
        assert isinstance(files, dict) and name in files
        assert manifest["decision_rows"] == len(rows)


def test_auto_writes_csv_while_it_fits_a_sheet_then_parquet(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sc = Scenario(engine, tmp_path, contacts=_contacts())
    sc.load()
    small = _rent(sc, "auto", "small")
    assert _manifest(small)["decisions_file"] == "decisions.csv"
    rows = _manifest(small)["decision_rows"]
    assert isinstance(rows, int) and rows > 2
    # a sheet of as many rows as the file and its header: one too few
    monkeypatch.setattr(decision_module, "SPREADSHEET_ROWS", rows)
    large = _rent(sc, "auto", "large")
    assert _manifest(large)["decisions_file"] == "decisions.parquet"
    assert pq.read_metadata(large / "decisions.parquet").num_rows == rows
    monkeypatch.setattr(decision_module, "SPREADSHEET_ROWS", rows + 1)
    fits = _rent(sc, "auto", "fits")
    assert _manifest(fits)["decisions_file"] == "decisions.csv"


def test_an_unknown_format_is_refused_with_its_section(tmp_path: Path) -> None:
    config = tmp_path / "listguard.toml"
    config.write_text('[delivery]\ndecisions_format = "xlsx"\n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_settings(config)
    assert "[delivery]" in str(caught.value.where) and "'xlsx'" in caught.value.message


def test_the_command_line_rents_to_parquet_from_the_settings(tmp_path: Path) -> None:
    registry = tmp_path / "registry.db"
    write_csv(tmp_path / "partners.csv", [partner("P1")])
    write_csv(tmp_path / "contacts.csv", _contacts())
    (tmp_path / "listguard.toml").write_text(
        '[delivery]\ndecisions_format = "parquet"\n', encoding="utf-8"
    )
    (tmp_path / "order.toml").write_text(
        'partner = "P1"\nchannels = ["email"]\npurpose = "Offre"\n'
        "campaign_start = 2026-12-01\ncampaign_end = 2026-12-31\nas_of = 2026-11-28\n",
        encoding="utf-8",
    )
    for args in (
        ("init",),
        ("import", "partners", "partners.csv"),
        ("import", "contacts", "contacts.csv"),
        ("--config", "listguard.toml", "rent", "order.toml", "--out", "d"),
    ):
        done = listguard(registry, tmp_path, *args)
        assert done.returncode == 0, done.stderr
    assert _manifest(tmp_path / "d")["decisions_file"] == "decisions.parquet"
    assert pq.read_table(tmp_path / "d" / "decisions.parquet").num_rows == len(_contacts())
