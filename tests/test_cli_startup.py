"""``listguard --help`` is read by a person waiting: it loads the command modules,
never the registry, the rules or the data libraries the commands import when they
run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = (
    "import runpy, sys\n"
    "try:\n"
    "    runpy.run_module('listguard', run_name='__main__')\n"
    "except SystemExit:\n"
    "    pass\n"
    "print(sorted(m for m in sys.modules if m.split('.')[0] in "
    "('listguard', 'sqlalchemy', 'duckdb', 'pyarrow', 'polars', 'pandas', 'numpy', "
    "'fastapi', 'rich')), file=sys.stderr)\n"
)


@pytest.mark.parametrize("args", [["--help"], ["rent", "--help"], ["rights", "erase", "--help"]])
def test_help_loads_no_command_body(tmp_path: Path, args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert "Usage: " in done.stdout, done.stderr
    loaded = json.loads(done.stderr.strip().splitlines()[-1].replace("'", '"'))
    assert "listguard.cli.main" in loaded
    light = [m for m in loaded if m in ("listguard", "listguard.errors")]
    assert sorted(light + [m for m in loaded if m.startswith("listguard.cli")]) == loaded
