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
from collections.abc import Callable
from pathlib import Path

from tests.test_cli import base, cli, ok  # noqa: F401 (base: a fixture)


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
    # stopped as a service manager stops it, while the files are written: nothing is
    # recorded, and only the hidden folder is left, with its personal data
    before = _recorded(base)

    def writing() -> bool:
        return any((p / "decisions.csv").exists() for p in _partials(base))

    _rent_killed(base, "d2", writing, signal.SIGTERM)
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
