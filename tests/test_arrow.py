"""Moving tables between the registry and Arrow: types, nulls, empty strings, snapshots."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import Engine, text

from listguard.imports import import_file
from listguard.rights import erase
from listguard.storage.engine import one_snapshot
from listguard.storage.open import open_storage
from listguard.storage.query import Copied, Query
from listguard.storage.reading import prepare_reading as reader_ahead
from listguard.storage.sqlite import ahead
from listguard.storage.sqlite.first_load import small_offsets
from tests.scenario import contact, write_csv


def fetch_arrow(conn: Any, queries: Any) -> dict[str, pa.Table]:
    """The registry's tables read through the storage interface, in ``conn``'s snapshot."""
    return open_storage(conn.engine).read_arrow(queries, conn)


def staged(conn: Any, name: str, table: pa.Table, schema: pa.Schema) -> Any:
    return open_storage(conn.engine).staged(conn, name, table, schema)


AWKWARD = ["", None, 'a;b,"c"', "line\nbreak", "é€œ’", "  spaced  "]


def _fill(engine: Engine, n: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t_arrow (k INTEGER PRIMARY KEY, s TEXT, i BIGINT)"))
        # the first rows hold only NULLs, which must not decide the column's type
        early: list[dict[str, object]] = [
            {"k": k, "s": None, "i": None} for k in range(min(n, 2500))
        ]
        late: list[dict[str, object]] = [
            {"k": k, "s": AWKWARD[k % len(AWKWARD)], "i": k * 10} for k in range(2500, n)
        ]
        conn.execute(text("INSERT INTO t_arrow (k, s, i) VALUES (:k, :s, :i)"), early + late)


def test_fetch_keeps_types_nulls_and_empty_strings_in_order(any_engine: Engine) -> None:
    _fill(any_engine, 4000)
    schema = pa.schema([("k", pa.int64()), ("s", pa.string()), ("i", pa.int64())])
    query = Query(
        "SELECT k, s, i FROM t_arrow WHERE k >= :low",
        schema,
        {"low": 0},
        split=("k", "SELECT min(k), max(k) FROM t_arrow"),
    )
    with any_engine.connect() as raw:
        conn = one_snapshot(raw)
        tables = fetch_arrow(
            conn, {"t": query, "again": Query("SELECT k, s, i FROM t_arrow WHERE 1 = 1", schema)}
        )
    got = tables["t"]
    assert got.schema == schema
    assert got.column("k").to_pylist() == list(range(4000))  # the ranges come back in order
    values = got.column("s").to_pylist()
    assert values[:2500] == [None] * 2500
    assert values[2500:] == [AWKWARD[k % len(AWKWARD)] for k in range(2500, 4000)]
    assert got.column("i").to_pylist()[3999] == 39990
    assert tables["again"].num_rows == 4000


def test_fetch_of_nothing_is_an_empty_table_of_the_schema(any_engine: Engine) -> None:
    _fill(any_engine, 10)
    schema = pa.schema([("k", pa.int64()), ("s", pa.string())])
    with any_engine.connect() as conn:
        got = fetch_arrow(conn, {"t": Query("SELECT k, s FROM t_arrow WHERE k < 0", schema)})
    assert got["t"].num_rows == 0 and got["t"].schema == schema


def test_a_reader_started_ahead_serves_the_first_read_and_is_stopped_if_unused(
    engine: Engine,
) -> None:
    _fill(engine, 10)
    url = engine.url.render_as_string(hide_password=False)
    query = {"t": Query("SELECT k FROM t_arrow WHERE 1 = 1", pa.schema([("k", pa.int64())]))}
    with reader_ahead(url):
        child = ahead._AHEAD[str(Path(engine.url.database or "").resolve())]
        with engine.connect() as conn:
            assert fetch_arrow(conn, query)["t"].num_rows == 10
        assert child.returncode == 0  # it served the read
        assert not ahead._AHEAD
        with engine.connect() as conn:  # a second read starts its own
            assert fetch_arrow(conn, query)["t"].num_rows == 10
    with reader_ahead(url):  # not needed: stopped at the end, never left running
        child = next(iter(ahead._AHEAD.values()))
    assert child.returncode is not None and not ahead._AHEAD
    with reader_ahead("postgresql://nobody@localhost/none"):  # not a SQLite file: nothing
        assert not ahead._AHEAD


@pytest.mark.parametrize("rows", [0, 3, 25_000])
def test_staged_rows_read_back_exactly(any_engine: Engine, rows: int) -> None:
    schema = pa.schema([("n", pa.int64()), ("s", pa.string())])
    table = pa.table(
        {"n": list(range(rows)), "s": [AWKWARD[n % len(AWKWARD)] for n in range(rows)]},
        schema=schema,
    )
    with any_engine.connect() as conn, staged(conn, "probe", table, schema) as name:
        back = conn.execute(text(f"SELECT n, s FROM {name} ORDER BY n")).all()
        conn.rollback()
    assert [tuple(r) for r in back] == list(
        zip(table["n"].to_pylist(), table["s"].to_pylist(), strict=True)
    )


# the columnar copy of the contacts beside a SQLite registry (``Query.copy``)

COPIED = Query(
    "SELECT id, contact_id, first_name FROM contacts WHERE 1 = 1",
    pa.schema([("id", pa.int64()), ("contact_id", pa.string()), ("first_name", pa.string())]),
    copy=Copied("contacts"),
)


def _import(engine: Engine, tmp_path: Path, rows: list[dict[str, object]], name: str) -> None:
    import_file(engine, "contacts", write_csv(tmp_path / f"{name}.csv", rows))


def _names(engine: Engine) -> dict[str, str | None]:
    with engine.connect() as conn:
        got = fetch_arrow(conn, {"c": COPIED})["c"]
        plain = fetch_arrow(conn, {"c": replace(COPIED, copy=None)})["c"]
    assert got.equals(plain)  # the copy and the registry agree, row for row
    return dict(zip(got["contact_id"].to_pylist(), got["first_name"].to_pylist(), strict=True))


def _meta(engine: Engine) -> dict[str, Any]:
    folder = Path(f"{engine.url.database}-arrow") / "contacts"
    meta: dict[str, Any] = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    return meta


def test_the_contacts_copy_is_made_then_only_the_rows_added_are_read(
    engine: Engine, tmp_path: Path
) -> None:
    _import(engine, tmp_path, [contact(f"C{i}", first_name=f"N{i}") for i in range(3)], "a")
    assert _names(engine) == {"C0": "N0", "C1": "N1", "C2": "N2"}
    first = _meta(engine)
    assert first["rows"] == 3
    _import(engine, tmp_path, [contact(f"C{i}", first_name=f"N{i}") for i in (3, 4)], "b")
    assert _names(engine) == {f"C{i}": f"N{i}" for i in range(5)}
    second = _meta(engine)
    # the first part is kept as it was; the new rows are one more part
    kept = len(first["parts"])
    assert second["rows"] == 5 and second["parts"][:kept] == first["parts"]
    assert len(second["parts"]) == kept + 1 and second["token"] == first["token"]


def test_a_contact_changed_or_deleted_after_the_copy_is_read_as_it_is_now(
    engine: Engine, tmp_path: Path
) -> None:
    _import(engine, tmp_path, [contact(f"C{i}", first_name=f"N{i}") for i in range(3)], "a")
    assert _names(engine)["C1"] == "N1"
    token = _meta(engine)["token"]
    # a re-import that changes a contact
    _import(engine, tmp_path, [contact("C1", first_name="Changed")], "b")
    assert _names(engine)["C1"] == "Changed"
    assert _meta(engine)["token"] != token
    # and statements run by hand, outside listguard
    with engine.begin() as conn:
        conn.execute(text("UPDATE contacts SET first_name = 'ByHand' WHERE contact_id = 'C2'"))
    assert _names(engine)["C2"] == "ByHand"
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM contacts WHERE contact_id = 'C0'"))
    assert set(_names(engine)) == {"C1", "C2"}


def test_a_registry_restored_from_a_backup_and_added_to_is_not_taken_for_its_copy(
    engine: Engine, tmp_path: Path
) -> None:
    path = Path(str(engine.url.database))
    _import(engine, tmp_path, [contact("C0")], "a")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    backup = tmp_path / "backup.db"
    shutil.copy(path, backup)
    _import(engine, tmp_path, [contact("C1", first_name="Before")], "b")
    assert _names(engine)["C1"] == "Before"  # the copy holds C0 and C1
    engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copy(backup, path)  # same token, one row fewer; then another second row
    _import(engine, tmp_path, [contact("C9", first_name="After")], "c")
    assert _names(engine) == {"C0": "Marie", "C9": "After"}


def test_an_unreadable_copy_is_made_again(engine: Engine, tmp_path: Path) -> None:
    _import(engine, tmp_path, [contact(f"C{i}") for i in range(3)], "a")
    _names(engine)
    folder = Path(f"{engine.url.database}-arrow") / "contacts"
    part = folder / _meta(engine)["parts"][0]
    part.write_bytes(part.read_bytes()[:20])
    assert len(_names(engine)) == 3  # read from the registry; the copy is dropped
    assert not part.exists()
    assert len(_names(engine)) == 3 and _meta(engine)["rows"] == 3  # and made again


def _counted_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the reading children the reads start."""
    from listguard.storage.sqlite import fetch as arrow

    calls: list[int] = []
    real = arrow._read_child

    def counting(path: str, queries: Any, folder: Path) -> Any:
        calls.append(1)
        return real(path, queries, folder)

    monkeypatch.setattr(arrow, "_read_child", counting)
    return calls


def test_a_copy_that_fails_in_the_reading_child_is_read_from_the_registry(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child merges the copy's parts once there are too many, and one is damaged:
    the read is made again from the registry alone, and the copy is dropped."""
    from listguard.storage.sqlite.reader import COPY_MAX_PARTS

    for i in range(COPY_MAX_PARTS):  # a part per read
        _import(engine, tmp_path, [contact(f"C{i}", first_name=f"N{i}")], f"r{i}")
        _names(engine)
    folder = Path(f"{engine.url.database}-arrow") / "contacts"
    parts = _meta(engine)["parts"]
    assert len(parts) == COPY_MAX_PARTS
    damaged = folder / parts[0]
    damaged.write_bytes(damaged.read_bytes()[:20])
    _import(engine, tmp_path, [contact("C99", first_name="Last")], "last")
    reads = _counted_reads(monkeypatch)
    with engine.connect() as conn:
        got = fetch_arrow(conn, {"c": COPIED})["c"]
    assert sorted(got["contact_id"].to_pylist()) == sorted(
        [*(f"C{i}" for i in range(COPY_MAX_PARTS)), "C99"]
    )
    assert len(reads) == 2 and not damaged.exists()


def test_a_registry_that_cannot_be_read_is_reported_after_one_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure of the registry itself is not taken for one of its copy: it is not
    met a second time (a registry locked for long would make the user wait twice)."""
    from listguard.errors import ListguardError
    from listguard.storage.sqlite.fetch import fetch_sqlite as _fetch_sqlite

    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a SQLite database " * 200)
    reads = _counted_reads(monkeypatch)
    with pytest.raises(ListguardError, match="cannot read the registry"):
        _fetch_sqlite(str(broken), {"c": COPIED})
    assert len(reads) == 1


def test_an_erasure_removes_the_copy_that_held_the_person(engine: Engine, tmp_path: Path) -> None:
    _import(engine, tmp_path, [contact(f"C{i}", first_name=f"N{i}") for i in range(2)], "a")
    _names(engine)
    folder = Path(f"{engine.url.database}-arrow")
    assert any(b"N1" in f.read_bytes() for f in folder.rglob("*.arrow"))
    erase(engine, contact_id="C1")
    assert not folder.exists()
    assert _names(engine) == {"C0": "N0"}


def test_a_copy_naming_files_outside_its_folder_is_not_read(engine: Engine, tmp_path: Path) -> None:
    _import(engine, tmp_path, [contact("C0", first_name="Real")], "a")
    _names(engine)
    outside = tmp_path / "outside.arrow"
    fake = pa.table({"id": [1], "contact_id": ["C0"], "first_name": ["Fake"]}, COPIED.schema)
    with pa.OSFile(str(outside), "wb") as sink, pa.ipc.new_file(sink, fake.schema) as w:
        w.write_table(fake)
    meta_file = Path(f"{engine.url.database}-arrow") / "contacts" / "meta.json"
    meta = _meta(engine)
    meta["parts"] = [f"../../{outside.name}"]
    meta_file.write_text(json.dumps(meta), encoding="utf-8")
    assert _names(engine) == {"C0": "Real"}
    assert all(part.startswith("part-") for part in _meta(engine)["parts"])


def test_reads_at_the_same_time_each_get_the_whole_table(engine: Engine, tmp_path: Path) -> None:
    """Several reads make and replace the copy at once (each removes the files its copy
    does not name): every one still returns every contact."""
    from concurrent.futures import ThreadPoolExecutor

    _import(engine, tmp_path, [contact(f"C{i}", first_name=f"N{i}") for i in range(40)], "a")
    expected = {f"C{i}": f"N{i}" for i in range(40)}

    def read(round_: int) -> dict[str, str | None]:
        if round_ % 2:  # every other read finds a copy of another token
            with engine.begin() as conn:
                conn.execute(text("UPDATE contacts_stamp SET token = :t"), {"t": f"t{round_}"})
        return _names(engine)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(read, range(12)))
    assert all(r == expected for r in results)


def test_small_offsets_keeps_values_and_leaves_other_tables_alone() -> None:
    wide = pa.table(
        {"s": pa.array(AWKWARD, pa.large_string()), "i": pa.array(range(6), pa.int64())},
        schema=pa.schema([("s", pa.large_string()), ("i", pa.int64())], metadata={"k": "v"}),
    )
    narrow = small_offsets(wide)
    assert narrow.schema.field("s").type == pa.string()
    assert narrow.schema.field("i").type == pa.int64()
    assert narrow.schema.metadata == {b"k": b"v"}
    assert narrow.column("s").to_pylist() == AWKWARD
    assert small_offsets(narrow) is narrow


def test_streams_hold_their_files_when_the_copies_are_dropped_meanwhile(
    engine: Engine, tmp_path: Path
) -> None:
    """A decision reads its extracts as streams, a batch at a time, long after they were
    read: an erasure that drops the columnar copies meanwhile (or a read that merges
    their parts) must not take the rows away from under it."""
    from listguard.storage.sqlite.fetch import drop_copies

    _import(engine, tmp_path, [contact(f"C{i}", first_name=f"N{i}") for i in range(5)], "a")
    expected = _names(engine)  # the copy is made
    copy = Path(f"{engine.url.database}-arrow")
    assert copy.is_dir()
    with engine.connect() as conn:
        storage = open_storage(engine)
        with storage.read_streams({"c": COPIED}, one_snapshot(conn)) as streams:
            drop_copies(engine)
            assert not copy.exists()
            got = streams["c"].read_all()
    names = dict(zip(got["contact_id"].to_pylist(), got["first_name"].to_pylist(), strict=True))
    assert names == expected and len(names) == 5
