"""Shared helpers of the benchmarks: timing and peak memory of a command run in a child."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"


@dataclass
class Run:
    seconds: float
    peak_mib: float
    stdout: str


def run(args: list[str], env: dict[str, str] | None = None) -> Run:
    """Run a command in a child process; its wall time and its own peak resident memory."""
    wrapper = (
        "import resource, subprocess, sys, time, json;"
        "t = time.perf_counter();"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
        "dt = time.perf_counter() - t;"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024;"
        "print(json.dumps({'rc': p.returncode, 's': dt, 'mib': peak, 'out': p.stdout, "
        "'err': p.stderr}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", wrapper, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=True,
    )
    import json

    result = json.loads(done.stdout)
    if result["rc"] != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result['err']}")
    return Run(result["s"], result["mib"], result["out"])


def listguard(*args: str, db: str) -> Run:
    return run([sys.executable, "-m", "listguard", "--db", db, *args])


def self_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed() -> float:
    return time.perf_counter()
