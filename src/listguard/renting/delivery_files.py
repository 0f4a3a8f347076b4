"""The files of a delivery's folder that may be read back, and how to find one safely.

The owner reads every file of a delivery: the partner's (``contacts.csv`` or
``enriched.csv``, ``notice.txt``) and its own (the decisions, the manifest, an
enrichment's matches). A partner reads its own only (``web/api/partner.py``). A file is
named from this list only, never from a path given by a client, and is served only
when it is a plain file inside the delivery's folder, symbolic links resolved.
"""

from __future__ import annotations

from pathlib import Path

OWNER_FILES = (
    "contacts.csv",
    "enriched.csv",
    "notice.txt",
    "decisions.csv",
    "decisions.parquet",
    "matches.csv",
    "manifest.json",
)
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "json": "application/json; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


def media_type(name: str) -> str:
    """The content type a file of ``OWNER_FILES`` is served with."""
    return MEDIA[name.rsplit(".", 1)[1]]


def kept_file(out_dir: str | Path, name: str) -> Path | None:
    """The file ``name`` (one of ``OWNER_FILES``) of the delivery folder ``out_dir``,
    or None when it is not kept there (removed, never written, or a link leading out
    of the folder)."""
    if name not in OWNER_FILES:
        return None
    folder = Path(out_dir)
    path = folder / name
    try:
        inside = path.resolve().parent == folder.resolve()
    except OSError:  # pragma: no cover - a loop of links
        return None
    return path if inside and path.is_file() else None


def kept_files(out_dir: str | Path) -> list[str]:
    """The names of ``OWNER_FILES`` still kept in the delivery folder ``out_dir``."""
    return [n for n in OWNER_FILES if kept_file(out_dir, n) is not None]


__all__ = ["MEDIA", "OWNER_FILES", "kept_file", "kept_files", "media_type"]
