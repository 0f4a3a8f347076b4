"""How far a reader must follow one order and one opposition through the code.

    python -m bench.hops [-v]

Runs, in this process, `listguard rent` (the second rental of an order) and
`listguard oppose` (the second opposition: another person's) on a small generated
registry, their modules loaded by the first (a module's first import runs its class
bodies, which are no step of the work), and counts, among the
functions of listguard they enter (normalisation of single values and the demo data
left out): the calls from one module into another (each opens another file for a
reader), the longest chain of such calls, and the functions and modules entered.
``-v`` lists the calls between modules. docs/architecture.md quotes the figures.
"""

from __future__ import annotations

import runpy
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import listguard

ROOT = str(Path(listguard.__file__).parent)
SKIP = ("/normalise/", "/demo/", "/db/migrations/")


def _cli(*args: str) -> None:
    sys.argv = ["listguard", *args]
    try:
        runpy.run_module("listguard", run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        if stop.code not in (0, None):
            raise


def _name(frame: FrameType) -> str | None:
    """``module:function`` of a frame of listguard's that counts, else None."""
    f = frame.f_code.co_filename
    if f.startswith(ROOT) and not any(s in f for s in SKIP) and "<" not in frame.f_code.co_name:
        return f"{f[len(ROOT) + 1 :]}:{frame.f_code.co_qualname}"
    return None


class Trace:
    """The listguard functions one piece of work entered, and the calls that cross from
    one module into another (a hop: a reader following the work opens another file)."""

    def __init__(self) -> None:
        self.functions: set[str] = set()
        self.hops: set[tuple[str, str]] = set()
        self.longest = 0  # the most modules one chain of calls passes through
        self._depth: dict[int, int] = {}

    def __call__(self, frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call" or (name := _name(frame)) is None:
            return
        self.functions.add(name)
        caller = frame.f_back
        while caller is not None and _name(caller) is None:
            caller = caller.f_back
        depth = 1
        if caller is not None:
            by = _name(caller)
            assert by is not None
            depth = self._depth.get(id(caller), 1)
            if by.split(":")[0] != name.split(":")[0]:
                self.hops.add((by, name))
                depth += 1
        self._depth[id(frame)] = depth
        self.longest = max(self.longest, depth)

    @property
    def modules(self) -> set[str]:
        return {f.split(":")[0] for f in self.functions}


def traced(work: Callable[[], None]) -> Trace:
    trace = Trace()
    sys.setprofile(trace)
    try:
        work()
    finally:
        sys.setprofile(None)
    return trace


def main() -> None:
    verbose = "-v" in sys.argv[1:]
    from listguard.demo.generate import generate

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = generate(folder / "in", 300, seed=7)
        db = f"sqlite:///{folder / 'lg.db'}"
        base = ["--db", db]
        _cli(*base, "init")
        _cli(*base, "import", "partners", str(files["partners"]))
        _cli(*base, "import", "contacts", str(files["contacts"]))
        order = folder / "order.toml"
        order.write_text(
            'partner = "P0003"\nchannels = ["postal", "phone", "sms", "email"]\n'
            'purpose = "Count"\ncampaign_start = 2026-12-01\ncampaign_end = 2027-01-31\n'
            "as_of = 2026-11-28\n",
            encoding="utf-8",
        )
        _cli(*base, "rent", str(order), "--out", str(folder / "d1"))  # warm the imports
        rent = traced(lambda: _cli(*base, "rent", str(order), "--out", str(folder / "d2")))
        import csv

        with (folder / "d2" / "contacts.csv").open(encoding="utf-8-sig") as f:
            first, email = [r["email"] for r in csv.DictReader(f, delimiter=";") if r["email"]][:2]
        _cli(*base, "oppose", "--email", first, "--channel", "email")  # warm the imports
        oppose = traced(lambda: _cli(*base, "oppose", "--email", email, "--channel", "email"))
    for name, trace in (("rent", rent), ("oppose", oppose)):
        print(
            f"{name}: {len(trace.hops)} calls from one module into another, the longest chain "
            f"through {trace.longest} modules; {len(trace.functions)} functions in "
            f"{len(trace.modules)} modules"
        )
        if verbose:
            for by, to in sorted(trace.hops):
                print(f"    {by} -> {to}")


if __name__ == "__main__":
    main()
