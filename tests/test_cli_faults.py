"""The command line under faults: killed rentals, their leftovers, full disks, bad paths,
a closed standard output."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.scenario import Scenario, contact, listguard, partner, write_csv
from tests.test_cli import base, cli, ok, user_error  # noqa: F401 (base: a fixture)


def _recorded(tmp: Path) -> dict[int, str]:
    """Each recorded delivery's manifest digest."""
    with sqlite3.connect(tmp / "reg.db") as db:
        return dict(db.execute("SELECT id, manifest_sha256 FROM deliveries").fetchall())


def _complete_but_unrecorded(tmp: Path) -> list[str]:
    """The folders that look like a delivery (a manifest) the registry did not record."""
    recorded = _recorded(tmp)
    bad = []
    for folder in tmp.iterdir():
        manifest = folder / "manifest.json"
        if folder.name.startswith(".") or not manifest.is_file():
            continue
        body = manifest.read_bytes()
        if recorded.get(json.loads(body)["delivery_id"]) != hashlib.sha256(body).hexdigest():
            bad.append(folder.name)
    return bad


def _partials(tmp: Path) -> list[Path]:
    return [p for p in tmp.iterdir() if ".partial-" in p.name]


def _rent_killed(tmp: Path, out: str, moment: Callable[[], bool], sig: int) -> None:
    """``listguard rent`` with its process group (the command and its children) killed by
    ``sig`` as soon as ``moment()`` holds."""
    env = {**os.environ, "LISTGUARD_DATABASE_URL": f"sqlite:///{tmp / 'reg.db'}"}
    env.pop("LISTGUARD_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "listguard", "rent", "order.toml", "--out", out],
        cwd=tmp,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if moment():
                os.killpg(proc.pid, sig)
                break
            time.sleep(0.0005)
    finally:
        if proc.poll() is None and time.monotonic() >= deadline:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_a_killed_rental_never_leaves_an_unrecorded_delivery(base: Path) -> None:  # noqa: F811
    # killed as the delivery folder appears: it appears once recorded, or not at all
    _rent_killed(base, "d1", (base / "d1").exists, signal.SIGKILL)
    assert _complete_but_unrecorded(base) == []
    before = _recorded(base)

    def writing() -> bool:
        return any((p / "decisions.csv").exists() for p in _partials(base))

    # stopped as a service manager stops it, while the files are written: nothing is
    # recorded, nothing is left
    _rent_killed(base, "d2", writing, signal.SIGTERM)
    assert _recorded(base) == before
    assert not (base / "d2").exists() and _partials(base) == []
    # killed there: only the hidden folder is left, with its personal data
    _rent_killed(base, "d2", writing, signal.SIGKILL)
    assert _recorded(base) == before
    assert not (base / "d2").exists() and _complete_but_unrecorded(base) == []
    left = _partials(base)
    assert left and all(p.name.startswith(".d2.partial-") for p in left)
    # the next rental removes it and says so, then delivers under references of its own
    done = cli(base, "rent", "order.toml", "--out", "d3")
    assert done.returncode == 0, done.stderr
    for p in left:
        assert f"{p}: removed the folder of a rental stopped before it was recorded" in done.stderr
    assert _partials(base) == [] and _complete_but_unrecorded(base) == []
    assert "Traceback" not in done.stderr


def test_a_rental_interrupted_as_its_commit_ends_keeps_its_folder(
    any_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted once the registry has committed, but before the rental knew it: the
    delivery is recorded, so its folder is moved in place, not removed."""
    from listguard.storage.base import Tx

    def interrupted(commit: Callable[[Any], None]) -> Callable[[Any], None]:
        def after(self: Any) -> None:
            commit(self)
            raise KeyboardInterrupt

        return after

    monkeypatch.setattr(Tx, "commit", interrupted(Tx.commit))
    sc = Scenario(any_engine, tmp_path)
    sc.load()
    with pytest.raises(KeyboardInterrupt):
        sc.rent(channels=("email",), out="d1")
    with any_engine.connect() as conn:
        digest = conn.execute(text("SELECT manifest_sha256 FROM deliveries")).scalar_one()
    body = (tmp_path / "d1" / "manifest.json").read_bytes()
    assert hashlib.sha256(body).hexdigest() == digest
    assert _partials(tmp_path) == []


def test_rent_reports_folders_the_registry_does_not_know(base: Path) -> None:  # noqa: F811
    ok(base, "rent", "order.toml", "--out", "d1")
    ok(base, "rent", "order.toml", "--out", "d2")
    # the folder of a recorded delivery whose rental stopped before moving it in place
    (base / "d1").rename(base / ".d1.partial-0123abcd")
    # a folder that looks like a delivery the registry never recorded
    manifest = json.loads((base / "d2" / "manifest.json").read_text(encoding="utf-8"))
    manifest["delivery_id"] = 7
    (base / "d2" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    done = cli(base, "rent", "order.toml", "--out", "sub/d3")
    assert done.returncode == 0, done.stderr
    # found beside the recorded deliveries, though this one is made elsewhere
    assert f"{base / 'd1'}: delivery 1 was recorded but its rental stopped" in done.stderr
    assert (base / "d1" / "manifest.json").is_file() and _partials(base) == []
    assert f"{base / 'd2'}: its manifest names delivery 7, which the registry never" in (
        done.stderr
    )
    assert _complete_but_unrecorded(base) == ["d2"]  # named, not removed: not listguard's


def test_bad_paths_are_named(base: Path) -> None:  # noqa: F811
    (base / "folder.toml").mkdir()
    # the order file is read first, and says so itself
    assert "folder.toml: this is a folder: name the order file" in user_error(
        base, "rent", "folder.toml", "--out", "d1"
    )
    message = user_error(base, "rent", "order.toml", "--out", "order.toml/d1")
    assert "order.toml/d1: cannot make the delivery folder: order.toml is a file" in message
    assert "/proc/d1: cannot make the delivery folder" in user_error(
        base, "rent", "order.toml", "--out", "/proc/d1"
    )
    assert _recorded(base) == {} and _partials(base) == []


def test_rent_into_a_closed_pipe_keeps_its_delivery_and_says_so(base: Path) -> None:  # noqa: F811
    env = {**os.environ, "LISTGUARD_DATABASE_URL": f"sqlite:///{base / 'reg.db'}"}
    env.pop("LISTGUARD_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "listguard", "rent", "order.toml", "--out", "d1"],
        cwd=base,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # as `| head` does once it has read what it wanted
    _out, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert "delivery 1 was recorded" in stderr and "standard output was closed" in stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    assert list(_recorded(base)) == [1] and (base / "d1" / "manifest.json").is_file()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A file system of 8 MiB, mounted for the test (as root only)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a small file system: {mounted.stderr!r}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path, leave_kib: int) -> None:
    """Fill ``disk`` but ``leave_kib`` KiB."""
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    (disk / "filler").write_bytes(b"\0" * max(0, free - leave_kib * 1024))


def _on(registry: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return listguard(registry, tmp, *args)


def test_a_full_disk_is_named_and_changes_nothing(tmp_path: Path, small_disk: Path) -> None:
    registry = small_disk / "reg.db"
    write_csv(tmp_path / "partners.csv", [partner()])
    write_csv(
        tmp_path / "contacts.csv",
        [contact(f"C{i}", email=f"c{i}@example.com") for i in range(3000)],
    )
    for args in (("init",), ("import", "partners", "partners.csv")):
        assert _on(registry, tmp_path, *args).returncode == 0
    # the registry's disk fills during an import
    _fill(small_disk, 300)
    done = _on(registry, tmp_path, "import", "contacts", "contacts.csv")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert (
        f"error: {registry}: the disk holding the registry or its temporary files is full "
        "(listguard import contacts stopped)"
    ) in done.stderr
    (small_disk / "filler").unlink()
    with sqlite3.connect(registry) as db:
        assert db.execute("SELECT count(*) FROM contacts").fetchone() == (0,)
    # the delivery's disk fills while the files are written: nothing recorded, nothing left
    registry = tmp_path / "reg.db"
    for args in (
        ("init",),
        ("import", "partners", "partners.csv"),
        ("import", "contacts", "contacts.csv"),
    ):
        assert _on(registry, tmp_path, *args).returncode == 0
    (tmp_path / "order.toml").write_text(
        'partner = "P1"\nchannels = ["email"]\npurpose = "Offre"\n'
        "campaign_start = 2026-12-01\ncampaign_end = 2026-12-31\nas_of = 2026-11-28\n",
        encoding="utf-8",
    )
    _fill(small_disk, 100)
    done = _on(registry, tmp_path, "rent", "order.toml", "--out", str(small_disk / "d1"))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"error: {small_disk}/.d1.partial-" in done.stderr
    assert ": no space left on the device (listguard rent stopped)" in done.stderr
    assert [p.name for p in small_disk.iterdir() if "d1" in p.name] == []
    with sqlite3.connect(registry) as db:
        assert db.execute("SELECT count(*) FROM deliveries").fetchone() == (0,)


def test_operational_errors_of_every_layer_become_messages() -> None:
    """As the registry's drivers and DuckDB raise them (a fake for the ones a test cannot
    cause)."""
    import duckdb
    from sqlalchemy.exc import OperationalError as SQLAlchemyError

    from listguard.cli.boundary import operational

    def message(exc: BaseException) -> str | None:
        error = operational(exc, "/data/reg.db", "listguard oppose stopped")
        return None if error is None else str(error)

    full = sqlite3.OperationalError("database or disk is full")
    assert message(SQLAlchemyError("INSERT", {}, full)) == (
        "/data/reg.db: the disk holding the registry or its temporary files is full "
        "(listguard oppose stopped)"
    )
    read_only = sqlite3.OperationalError("attempt to write a readonly database")
    assert "the registry is read-only" in str(message(read_only))

    class DiskFull(Exception):  # psycopg's errors.DiskFull, as it looks
        sqlstate = "53100"

    assert message(SQLAlchemyError("INSERT", {}, DiskFull("could not extend file"))) == (
        "/data/reg.db: the registry's server failed: could not extend file "
        "(listguard oppose stopped)"
    )
    assert message(duckdb.IOException('Could not write file "/x/a.csv": Permission denied')) == (
        "/x/a.csv: Permission denied (listguard oppose stopped)"
    )
    assert message(OSError(30, "Read-only file system", "/x/a.csv")) == (
        "/x/a.csv: read-only file system (listguard oppose stopped)"
    )
    # not operational: a bug keeps its traceback
    assert message(sqlite3.OperationalError("no such table: contacts")) is None
    assert message(ValueError("x")) is None


def test_a_delivery_folder_is_never_moved_over_files_of_the_same_name(tmp_path: Path) -> None:
    from listguard.renting.leftovers import move_in

    (tmp_path / "tmp").mkdir()
    (tmp_path / "tmp" / "manifest.json").write_text("new", encoding="utf-8")
    (tmp_path / "tmp" / "contacts.csv").write_text("new", encoding="utf-8")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "contacts.csv").write_text("old", encoding="utf-8")
    with pytest.raises(FileExistsError):
        move_in(tmp_path / "tmp", tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["contacts.csv"]
    assert (tmp_path / "out" / "contacts.csv").read_text(encoding="utf-8") == "old"
    # into an empty folder made beforehand: every file, the manifest last
    (tmp_path / "out" / "contacts.csv").unlink()
    move_in(tmp_path / "tmp", tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["contacts.csv", "manifest.json"]
    assert not (tmp_path / "tmp").exists()


def test_a_delivery_folder_may_hold_an_apostrophe(any_engine: Engine, tmp_path: Path) -> None:
    """DuckDB writes the files by a statement naming the path: a quote in it is text."""
    sc = Scenario(any_engine, tmp_path)
    sc.load()
    sc.rent(channels=("email",), out="Livraisons d'avril")
    assert (tmp_path / "Livraisons d'avril" / "contacts.csv").is_file()
