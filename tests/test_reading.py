"""Reading a file faithfully as a whole: quotes, encoding, header, NUL bytes, long lines.

A file that cannot be read faithfully as a whole is refused whole: a message naming
the line and column, and nothing recorded (not even the import).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from listguard.errors import FileFormatError
from listguard.imports import import_file
from listguard.io import prescan

EVENTS_HEADER = "contact_id;event;channel;scope;at;via;detail\n"


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def _oppositions(n: int, start: int = 0) -> list[str]:
    return [f"C{i};opposition;email;all;2026-11-0{1 + i % 9};letter;\n" for i in range(start, n)]


def _refused(engine: Engine, kind: str, path: Path, match: str) -> str:
    with pytest.raises(FileFormatError, match=match) as refused:
        import_file(engine, kind, path)
    assert _count(engine, "imports") == 0
    return str(refused.value)


def test_a_quote_never_closed_refuses_the_file_naming_its_line(
    engine: Engine, tmp_path: Path
) -> None:
    lines = _oppositions(2000)
    lines[99] = 'C99;opposition;email;all;2026-11-01;letter;"au téléphone\n'  # line 101
    path = tmp_path / "events.csv"
    path.write_text(EVENTS_HEADER + "".join(lines), encoding="utf-8")
    message = _refused(engine, "events", path, "never closed")
    assert "line 101, column 44" in message
    assert _count(engine, "events") == 0


def test_a_stray_quote_that_swallows_rows_refuses_the_file(engine: Engine, tmp_path: Path) -> None:
    lines = _oppositions(200)
    lines[99] = 'C99;opposition;email;all;2026-11-01;letter;"vu\n'  # line 101
    lines[103] = 'C103;opposition;email;all;2026-11-05;letter;12" ecran\n'  # line 105
    path = tmp_path / "events.csv"
    path.write_text(EVENTS_HEADER + "".join(lines), encoding="utf-8")
    message = _refused(engine, "events", path, "closes only on line 105")
    assert "line 101, column 44" in message and "line 102" in message
    assert _count(engine, "events") == 0


def test_a_quoted_value_over_several_lines_is_still_read(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        EVENTS_HEADER
        + 'C1;opposition;email;all;2026-11-01;letter;"lettre reçue\nle 2 novembre"\n'
        + 'C2;opposition;email;all;2026-11-01;letter;"dit ""stop"""\n',
        encoding="utf-8",
    )
    report = import_file(engine, "events", path)
    assert (report.rows_new, report.rows_rejected) == (2, 0)
    with engine.connect() as conn:
        details = conn.execute(text("SELECT detail FROM events ORDER BY contact_id")).scalars()
        assert list(details) == ["lettre reçue\nle 2 novembre", 'dit "stop"']


def test_windows_1252_after_the_first_64_kib_is_read(engine: Engine, tmp_path: Path) -> None:
    rows = [f"C{i};2026-01-10;Martin\n" for i in range(5000)]  # about 100 KiB of ASCII
    rows.append("C5000;2026-01-10;Hélène Lœuvre\n")
    rows.append("C5001;2026-01-10;CAFÉ… ALLÉE\xa0X\n")  # Windows-1252 that looks like UTF-8
    path = tmp_path / "c.csv"
    path.write_bytes(("contact_id;collected_at;last_name\n" + "".join(rows)).encode("cp1252"))
    report = import_file(engine, "contacts", path)
    assert (report.rows_new, report.rows_rejected) == (5002, 0)
    with engine.connect() as conn:
        names = conn.execute(
            text("SELECT last_name FROM contacts WHERE contact_id IN ('C5000', 'C5001')")
        )
        assert sorted(names.scalars()) == ["CAFÉ… ALLÉE\xa0X", "Hélène Lœuvre"]


def test_a_file_mixing_utf8_and_windows_1252_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(
        "contact_id;collected_at;last_name\nC1;2026-01-10;Hélène\n".encode()
        + "C2;2026-01-10;Hélène\n".encode("cp1252")
    )
    message = _refused(engine, "contacts", path, "mixing encodings")
    assert "line 3, column 16: byte 0xe9 is not UTF-8" in message and "line 2 is UTF-8" in message
    assert _count(engine, "contacts") == 0


def test_a_header_longer_than_64_kib_is_read_whole(engine: Engine, tmp_path: Path) -> None:
    extra = [f"attribute_number_{i:05d}" for i in range(1000)]  # about 24 KiB
    names = ["contact_id", *extra, "collected_at"]
    header = ";".join(names) + ";" + ";".join(f"{'x' * 60}_{i}" for i in range(900))
    assert len(header) > 1 << 16
    width = header.count(";") + 1
    row = ["C1", *(["v"] * len(extra)), "2026-01-10", *([""] * (width - len(names)))]
    path = tmp_path / "c.csv"
    path.write_text(header + "\n" + ";".join(row) + "\n", encoding="utf-8")
    report = import_file(engine, "contacts", path)
    assert (report.rows_new, report.rows_rejected) == (1, 0)
    assert "collected_at" not in report.unknown_columns and len(report.unknown_columns) == 1900


@pytest.mark.parametrize("where", ["start", "after 64 KiB"])
def test_a_nul_byte_refuses_the_file(engine: Engine, tmp_path: Path, where: str) -> None:
    rows = [f"C{i};2026-01-10;Martin\n" for i in range(5000 if where != "start" else 3)]
    rows[-1] = "C9;2026-01-10;Mar\x00tin\n"
    path = tmp_path / "c.csv"
    path.write_text("contact_id;collected_at;last_name\n" + "".join(rows), encoding="utf-8")
    message = _refused(engine, "contacts", path, "NUL byte")
    assert f"line {len(rows) + 1}, column 18" in message
    assert _count(engine, "contacts") == 0


def test_lines_ending_with_a_carriage_return_alone_are_still_read(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"contact_id;collected_at\rC1;2026-01-10\rC2;2026-01-10\r")
    report = import_file(engine, "contacts", path)
    assert (report.rows_new, report.rows_rejected) == (2, 0)


def test_a_line_longer_than_any_record_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        "contact_id;collected_at\nC1;2026-01-10\nC2;" + "x" * (2 << 20) + "\nC3;2026-01-10\n",
        encoding="utf-8",
    )
    _refused(engine, "contacts", path, "line 3 is longer than 1,048,576 bytes")


def test_a_quoted_value_longer_than_any_record_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        EVENTS_HEADER
        + 'C1;opposition;email;all;2026-11-01;letter;"'
        + "une ligne\n" * 120_000
        + '"\n',
        encoding="utf-8",
    )
    _refused(engine, "events", path, "line 2, column 43: a quote opened here closes only on line")


def test_a_file_that_changes_while_it_is_read_is_refused(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file still being written (an upload in progress) is not half imported."""
    from listguard.io.tabular import TabularFile

    path = tmp_path / "events.csv"
    path.write_text(EVENTS_HEADER + "".join(_oppositions(10)), encoding="utf-8")
    batches = TabularFile.batches

    def growing(self: TabularFile, batch_rows: int | None = None) -> Any:
        yield from batches(self, batch_rows)
        with path.open("a", encoding="utf-8") as f:
            f.write("".join(_oppositions(20, 10)))

    monkeypatch.setattr(TabularFile, "batches", growing)
    _refused(engine, "events", path, "the file changed while it was read")
    assert _count(engine, "events") == 0


def test_a_file_replaced_by_one_of_the_same_size_and_time_is_refused(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``cp -p`` or ``rsync -t`` put another file in place with the size and the time of
    the one that was checked: another inode, refused all the same."""
    import os

    from listguard.io.tabular import TabularFile

    path = tmp_path / "events.csv"
    path.write_text(EVENTS_HEADER + "".join(_oppositions(10)), encoding="utf-8")
    batches = TabularFile.batches

    def replaced(self: TabularFile, batch_rows: int | None = None) -> Any:
        yield from batches(self, batch_rows)
        before = path.stat()
        other = tmp_path / "other.csv"
        other.write_bytes(path.read_bytes())
        os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
        os.replace(other, path)

    monkeypatch.setattr(TabularFile, "batches", replaced)
    _refused(engine, "events", path, "the file changed while it was read")
    assert _count(engine, "events") == 0


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 64])
def test_the_scan_finds_the_same_in_chunks_of_any_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Quotes and UTF-8 are followed across the chunks the file is read in."""
    monkeypatch.setattr(prescan, "CHUNK_BYTES", chunk)
    path = tmp_path / "f.csv"
    path.write_bytes('a;b\n"x\ny";"é"\n"z";1\né;"q""\n'.encode())
    scanned = prescan.scan(path)
    assert scanned.encoding == "utf-8"
    assert scanned.odd_quotes.tolist() == [4, 13, 27]  # the last quotes of lines 2, 3, 5
    path.write_bytes(b"a;b\n\xc3\xa9;\xc3\xa9\n\xc3;x\n")
    with pytest.raises(FileFormatError, match="line 3, column 1: byte 0xc3 is not UTF-8"):
        prescan.scan(path)
