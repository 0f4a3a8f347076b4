"""Scratch folders of imports hold rows of personal data: none is left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from listguard.imports import import_file
from listguard.io.stage_folders import PREFIX, _started
from tests.scenario import contact, write_csv


def _folder(root: Path, name: str, owner: str | None) -> Path:
    folder = root / f"{PREFIX}{name}"
    folder.mkdir()
    (folder / "stage.db").write_bytes(b"rows of a file")
    if owner is not None:
        (folder / "owner").write_text(owner, encoding="ascii")
    return folder


def test_the_next_import_removes_the_folders_of_killed_imports(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    me = os.getpid()
    _folder(root, "killed", f"{gone} 123\n")
    _folder(root, "reused", f"{me} 1\n")  # this pid, but another process's start time
    _folder(root, "running", f"{me} {_started(me)}\n")
    _folder(root, "unowned", None)  # an earlier version's, just written: left alone
    report = import_file(engine, "contacts", write_csv(tmp_path / "c.csv", [contact()]))
    assert report.rows_new == 1
    assert sorted(p.name for p in root.iterdir()) == [f"{PREFIX}running", f"{PREFIX}unowned"]


def test_an_import_ended_by_sigterm_removes_its_folder(tmp_path: Path) -> None:
    root = tmp_path / "tmp"
    root.mkdir()
    env = {
        **os.environ,
        "LISTGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'reg.db'}",
        "TMPDIR": str(root),
    }
    env.pop("LISTGUARD_CONFIG", None)
    subprocess.run([sys.executable, "-m", "listguard", "init"], env=env, check=True)
    write_csv(tmp_path / "c.csv", [contact()])
    # the import is stopped by SIGTERM while it stages its first rows
    script = textwrap.dedent(
        """
        import os, signal, sys
        from listguard.storage.sqlite.fetch import Scratch
        from listguard.cli.main import run

        append = Scratch.append

        def stopped(self, *args):
            append(self, *args)
            assert any(self.folder.iterdir())
            os.kill(os.getpid(), signal.SIGTERM)

        Scratch.append = stopped
        run(["import", "contacts", sys.argv[1]])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "c.csv")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert list(root.iterdir()) == []
    from sqlalchemy import create_engine

    with create_engine(env["LISTGUARD_DATABASE_URL"]).connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM imports")).scalar_one() == 0
