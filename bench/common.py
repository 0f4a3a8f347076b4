"""Shared helpers of the benchmarks: timing and peak memory of a command run in a child."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"


@dataclass
class Run:
    seconds: float
    peak_mib: float  # the command's processes together (a writer process included)
    stdout: str
    stderr: str = ""


SAMPLE_SECONDS = 0.02


def _tree_rss_kib(pid: int) -> int:
    """The resident memory of ``pid`` and of every process it started, in KiB (Linux)."""
    total, todo = 0, [pid]
    while todo:
        proc = todo.pop()
        try:
            with open(f"/proc/{proc}/status") as status:
                total += next(
                    (int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0
                )
            for task in os.listdir(f"/proc/{proc}/task"):
                with open(f"/proc/{proc}/task/{task}/children") as children:
                    todo += [int(c) for c in children.read().split()]
        except (FileNotFoundError, ProcessLookupError):  # ended between two reads
            continue
    return total


def run(args: list[str], env: dict[str, str] | None = None) -> Run:
    """Run a command in a child process: its wall time, and the peak of the resident
    memory of its processes together, sampled every ``SAMPLE_SECONDS`` (an import's
    writer process counts with the importer)."""
    start = time.perf_counter()
    child = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(SAMPLE_SECONDS):
            peak = max(peak, _tree_rss_kib(child.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = child.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{err}")
    return Run(seconds, peak / 1024, out, err)


def listguard(*args: str, db: str) -> Run:
    return run([sys.executable, "-m", "listguard", "--db", db, *args])


def self_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed() -> float:
    return time.perf_counter()
