"""The shape of the code: no module over 600 lines (the database migrations aside),
and no import cycle between listguard's modules, counting the imports made inside
functions and for type checking (only the command line, ``cli/``, may import lazily:
a cycle among its own modules is left out).

The modules that break a rule today are listed below, each to be taken off the list
in the change that fixes it: the test fails for a module that breaks a rule without
being listed, and as well for a listed module that keeps to the rule, so that the
lists only shrink."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "listguard"
MAX_LINES = 600

# Modules over MAX_LINES, as paths under src/listguard.
TOO_LONG_TODAY: set[str] = set()

# Modules in an import cycle, by the cycle they are in today.
IN_A_CYCLE_TODAY: set[str] = set()


def modules(package: Path) -> dict[str, Path]:
    """Every module of ``package`` by its dotted name (a package by its own name)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(package: Path) -> dict[str, set[str]]:
    """Each module's imports of other modules of ``package``, wherever they are made
    (at the top, inside a function, under ``TYPE_CHECKING``). ``from a import b``
    names module ``a.b`` when there is one, else ``a``."""
    known = modules(package)
    root = package.name

    def module_of(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        named: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                named.update(module_of(a.name) for a in node.names if a.name.split(".")[0] == root)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}" if base else anchor
                if base.split(".")[0] != root:
                    continue
                for a in node.names:
                    full = f"{base}.{a.name}"
                    named.add(full if full in known else module_of(base))
        graph[name] = {m for m in named if m is not None and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The groups of modules that import one another, directly or not (the strongly
    connected components of more than one module), by Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(start: str) -> None:
        # iterative, so that a long chain of imports does not reach the recursion limit
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, todo = work[-1]
            step = next(todo, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph.get(step, ())))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def in_cycles(package: Path) -> set[str]:
    """The modules in an import cycle, but for the cycles among ``cli`` modules only."""
    lazy = f"{package.name}.cli"
    return {
        m
        for group in cycles(imports(package))
        if not all(g == lazy or g.startswith(f"{lazy}.") for g in group)
        for m in group
    }


def too_long(package: Path) -> set[str]:
    """The modules over ``MAX_LINES`` lines, as paths under ``package``; migrations aside."""
    return {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if "migrations" not in path.relative_to(package).parts
        and len(path.read_text(encoding="utf-8").splitlines()) > MAX_LINES
    }


def test_no_module_is_over_600_lines_but_those_listed() -> None:
    found = too_long(PACKAGE)
    assert not found - TOO_LONG_TODAY, (
        f"over {MAX_LINES} lines: {sorted(found - TOO_LONG_TODAY)}; split by concept"
    )
    assert not TOO_LONG_TODAY - found, (
        f"no longer over {MAX_LINES} lines (or gone): {sorted(TOO_LONG_TODAY - found)}; "
        "take them off TOO_LONG_TODAY"
    )


def test_no_import_cycle_but_those_listed() -> None:
    found = in_cycles(PACKAGE)
    assert not found - IN_A_CYCLE_TODAY, (
        f"in an import cycle: {sorted(found - IN_A_CYCLE_TODAY)}; move the shared piece "
        "down or invert the dependency (an import inside a function counts too)"
    )
    assert not IN_A_CYCLE_TODAY - found, (
        f"no longer in an import cycle (or gone): {sorted(IN_A_CYCLE_TODAY - found)}; "
        "take them off IN_A_CYCLE_TODAY"
    )


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / "pkg"
    for name, source in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return package


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("from pkg.b import x\n", "from pkg.a import y\n"),
        ("import pkg.b\n", "def f():\n    from pkg import a\n"),  # inside a function
        ("from . import b\n", "if TYPE_CHECKING:\n    from .a import y\n"),  # relative
        ("from pkg.sub import c\n", "from pkg.a import y\n"),  # through a third module
    ],
)
def test_a_cycle_is_found_however_the_imports_are_written(tmp_path: Path, a: str, b: str) -> None:
    package = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": a,
            "b.py": b,
            "sub/__init__.py": "",
            "sub/c.py": "from pkg.b import z\n",
            "d.py": "from pkg.a import y\n",  # imports a cycle's module, is in none
        },
    )
    assert "pkg.a" in in_cycles(package)
    assert "pkg.b" in in_cycles(package)
    assert "pkg.d" not in in_cycles(package)


def test_a_cycle_among_the_command_line_modules_only_is_left_out(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "__init__.py": "",
            "cli/__init__.py": "",
            "cli/main.py": "def f():\n    from pkg.cli import calls\n",
            "cli/calls.py": "from pkg.cli.main import app\n",
            "a.py": "from pkg.cli.main import app\n",
        },
    )
    assert in_cycles(package) == set()
    (package / "cli" / "calls.py").write_text("from pkg.cli.main import app\nimport pkg.a\n")
    (package / "cli" / "main.py").write_text("import pkg.cli.calls\n")
    # a module outside cli/ in the cycle: it counts, with the cli modules it passes by
    assert in_cycles(package) == {"pkg.a", "pkg.cli.main", "pkg.cli.calls"}


def test_a_long_module_is_found_and_migrations_are_left_out(tmp_path: Path) -> None:
    long = "x = 1\n" * (MAX_LINES + 1)
    package = _package(
        tmp_path,
        {
            "__init__.py": "",
            "short.py": "x = 1\n" * MAX_LINES,
            "deep/long.py": long,
            "db/migrations/versions/0001_first.py": long,
        },
    )
    assert too_long(package) == {"deep/long.py"}
