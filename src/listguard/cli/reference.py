"""The CLI reference (``docs/cli.md``), generated from the commands' own help.

``python -m listguard.cli.reference > docs/cli.md`` rewrites it; a test fails
when the file and the commands disagree.
"""

from __future__ import annotations

from typing import Any

import typer

from listguard.cli.main import app


def _walk(cmd: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    found = [(path, cmd)]
    if hasattr(cmd, "list_commands"):
        ctx = cmd.context_class(cmd)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None:
                found += _walk(sub, [*path, name])
    return found


def render() -> str:
    root = typer.main.get_command(app)
    lines = [
        "# Command line reference",
        "",
        "Generated from `listguard --help`; do not edit by hand "
        "(`python -m listguard.cli.reference > docs/cli.md`).",
        "",
        "Exit status: 0 success; 1 the input or the request was wrong (the message says what",
        "and where), or the system refused what the command had to do: a full disk, a",
        "permission refused, a read-only file system, a path through a file (the message",
        "names the path and the command); 2 usage error. Never a traceback, except for a",
        "fault of listguard itself. A command whose standard output is closed early",
        "(`listguard rent ... | head`) keeps what it did; `rent` says on standard error that",
        "its delivery was recorded, and exits with 0.",
        "",
    ]
    for path, cmd in _walk(root, ["listguard"]):
        ctx = cmd.context_class(cmd, info_name=" ".join(path), terminal_width=100)
        lines += [f"## `{' '.join(path)}`", "", "```", cmd.get_help(ctx).rstrip(), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
