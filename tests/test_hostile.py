"""The hostile-input corpus: every file of ``tests/hostile/`` given to the command that
reads it, as a user would, with the outcome ``tests/hostile/manifest.toml`` expects.

A file that cannot be read faithfully as a whole ends with exit status 1, a message
naming the file (and where it applies the line and column), no traceback, and the
registry unchanged. A file with some bad rows is imported but for them (exit status
0, each bad row in the rejects file with its line and column), and the registry
changes by its valid rows only. Every case ends within 30 s. Files too large to keep
(a 50 MB line, 10,000 columns...) are written by the test.
"""

from __future__ import annotations

import csv
import shutil
import signal
import sqlite3
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from listguard.cli.main import run

CORPUS = Path(__file__).parent / "hostile"
TABLES = (
    "contacts",
    "contact_versions",
    "events",
    "partners",
    "partner_versions",
    "suppressions",
    "bloctel_screenings",
    "imports",
    "deliveries",
)
LIMIT_SECONDS = 30


@dataclass
class Case:
    file: str
    exit: int
    message: list[str] = field(default_factory=list)
    rejects: list[str] = field(default_factory=list)  # "line column" of each reject
    added: dict[str, int] = field(default_factory=dict)  # rows added to registry tables
    stored: list[list[str]] = field(default_factory=list)  # [table, column, value] kept as is
    names_file: bool = True  # False: the message is about the registry, not the file
    write: Callable[[Path], None] | None = None  # a file written by the test


def _manifest() -> list[Case]:
    with (CORPUS / "manifest.toml").open("rb") as f:
        return [Case(**case) for case in tomllib.load(f)["case"]]


def _args(path: Path, out: Path) -> list[str]:
    kind = path.name.split("-")[0]
    if kind == "order":
        return ["rent", str(path), "--out", str(out)]
    if kind == "bloctel":
        return ["bloctel", "import", str(path), "--screened-at", "2026-12-01"]
    return ["import", kind, str(path)]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry with a partner P1 and two contacts C1, C2, copied for each case."""
    folder = tmp_path_factory.mktemp("hostile-base")
    db = folder / "build.db"
    (folder / "p.csv").write_text(
        "partner_id;name;category;sector;listed_from\nP1;Partenaire;vins;commercial;2020-01-01\n",
        encoding="utf-8",
    )
    (folder / "c.csv").write_text(
        "contact_id;first_name;collected_at;email;address_line4;postal_code;city\n"
        "C1;Marie;2026-01-10;c1@example.com;1 rue de la Paix;75002;Paris\n"
        "C2;Jean;2026-01-10;c2@example.com;2 rue de la Paix;75002;Paris\n",
        encoding="utf-8",
    )
    for args in (
        ["init"],
        ["import", "partners", str(folder / "p.csv")],
        ["import", "contacts", str(folder / "c.csv")],
    ):
        assert _cli(db, args) == 0
    # one file, whatever the registry still holds in its write-ahead log
    with sqlite3.connect(db) as conn:
        conn.execute("VACUUM INTO ?", (str(folder / "reg.db"),))
    return folder / "reg.db"


def _cli(db: Path, args: list[str]) -> int:
    try:
        run(["--db", f"sqlite:///{db}", *args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _counts(db: Path) -> dict[str, int]:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}
    finally:
        engine.dispose()


def _stored(db: Path, table: str, column: str, value: str) -> bool:
    assert table in TABLES and column.isidentifier()
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text(f"SELECT COUNT(*) FROM {table} WHERE {column} = :v"), {"v": value}
            )
            return bool(found.scalar_one() == 1)
    finally:
        engine.dispose()


@pytest.fixture
def time_limit() -> Iterator[None]:
    def stop(_signum: int, _frame: Any) -> None:
        raise TimeoutError(f"the case took more than {LIMIT_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(LIMIT_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _check(
    case: Case,
    template: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "reg.db"
    shutil.copy(template, db)
    path = tmp_path / case.file
    if case.write is not None:
        case.write(path)
    else:
        shutil.copy(CORPUS / case.file, path)
    before = _counts(db)
    capsys.readouterr()
    started = time.monotonic()
    code = _cli(db, _args(path, tmp_path / "delivery"))
    assert time.monotonic() - started < LIMIT_SECONDS
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert code == case.exit, (out, err)
    after = _counts(db)
    assert {t: after[t] - before[t] for t in TABLES if after[t] != before[t]} == case.added
    rejects_file = path.with_name(f"{path.stem}.rejects.csv")
    for table, column, value in case.stored:
        assert _stored(db, table, column, value), (table, column, value)
    if case.exit:
        assert f"error: {path}: " in err or not case.names_file, err
        for fragment in case.message:
            assert fragment in err, err
        assert not rejects_file.exists()
        assert not (tmp_path / "delivery").exists()
    else:
        for fragment in case.message:
            assert fragment in out, out
    if case.rejects:
        with rejects_file.open(encoding="utf-8-sig") as f:
            found = [f"{r['line']} {r['column']}" for r in csv.DictReader(f, delimiter=";")]
        assert found == case.rejects
    elif case.exit == 0:
        assert not rejects_file.exists()


CASES = _manifest()


def test_the_corpus_is_kept_whole() -> None:
    """Every file of the corpus has its expected outcome, and every outcome its file."""
    files = {p.name for p in CORPUS.iterdir() if p.name != "manifest.toml"}
    assert files == {c.file for c in CASES}
    assert len(files) >= 60


@pytest.mark.usefixtures("time_limit")
@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_hostile_file(
    case: Case, template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _check(case, template, tmp_path, capsys)


# -- files too large to keep in the repository, written by the test --------------------


def _line_of_50_mb(path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("contact_id;last_name;collected_at\nH1;Exemple;2026-01-10\nH2;")
        block = "x" * (1 << 20)
        for _ in range(50):
            f.write(block)
        f.write(";2026-01-10\nH3;Exemple;2026-01-10\n")


def _columns_10000(path: Path) -> None:
    names = ["contact_id", "collected_at", *(f"c{i}" for i in range(9998))]
    path.write_text(
        ";".join(names) + "\n" + ";".join(["H1", "2026-01-10", *["v"] * 9998]) + "\n",
        encoding="utf-8",
    )


def _row_of_10000_fields(path: Path) -> None:
    path.write_text(
        "contact_id;event;at\nC1;opposition;2026-11-02\n"
        + ";".join(["C2", "opposition", *["2026-11-02"] * 9998])
        + "\nC2;opposition;2026-11-03\n",
        encoding="utf-8",
    )


def _stray_quote_in_300k_rows(path: Path) -> None:
    rows = [
        f"C{1 + i % 2};opposition;email;all;2026-11-02;letter;lettre {i}\n"
        for i in range(1, 300_000)
    ]
    rows[99] = 'C2;opposition;email;all;2026-11-02;letter;"lettre 100\n'  # line 101
    path.write_text(
        "contact_id;event;channel;scope;at;via;detail\n" + "".join(rows), encoding="utf-8"
    )


def _cp1252_after_64_kib(path: Path) -> None:
    rows = "".join(f"H{i};Martin;2026-01-10\n" for i in range(5000))
    text_ = "contact_id;last_name;collected_at\n" + rows + "H5000;Lœuvre;2026-01-10\n"
    path.write_bytes(text_.encode("cp1252"))


GENERATED = [
    Case(
        "contacts-line-of-50-mb.csv",
        1,
        ["line 3 is longer than 1,048,576 bytes"],
        write=_line_of_50_mb,
    ),
    Case(
        "contacts-10000-columns.csv",
        1,
        ["line 1: the header has 10,000 columns, more than the 2,000"],
        write=_columns_10000,
    ),
    Case(
        "events-row-of-10000-fields.csv",
        0,
        ["3 rows read, 2 new"],
        rejects=["3 "],
        added={"events": 2, "imports": 1},
        write=_row_of_10000_fields,
    ),
    Case(
        "events-stray-quote-in-300000-rows.csv",
        1,
        ["line 101, column 43: a quote opened here is never closed"],
        write=_stray_quote_in_300k_rows,
    ),
    Case(
        "contacts-windows-1252-after-64-kib.csv",
        0,
        ["5001 rows read, 5001 new"],
        added={"contacts": 5001, "imports": 1},
        write=_cp1252_after_64_kib,
    ),
]


@pytest.mark.usefixtures("time_limit")
@pytest.mark.parametrize("case", GENERATED, ids=[c.file for c in GENERATED])
def test_large_hostile_file(
    case: Case, template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _check(case, template, tmp_path, capsys)
