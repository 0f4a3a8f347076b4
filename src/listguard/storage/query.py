"""What the storage interface speaks in: queries described as plain data, and Arrow
tables. Imports only pyarrow, so that a reading child starts fast."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from listguard.errors import ListguardError

# a query's parameters are written ``:name``
PARAM = re.compile(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Copied:
    """A query that reads the whole of ``table`` (``SELECT ... FROM table WHERE 1 = 1``;
    its first column is the integer primary key ``key``) and keeps a columnar copy of it
    beside a SQLite registry, valid under the token ``stamp`` reads."""

    table: str
    key: str = "id"
    stamp: str = "SELECT token FROM contacts_stamp WHERE id = 1"
    # what identifies a row beyond its key: the copy's last row must still be the table's
    # (a registry file restored from a backup and added to again reuses keys)
    mark: str = "contact_id, recorded_at, version"


@dataclass(frozen=True)
class Query:
    """A query whose columns are exactly ``schema`` (names and Arrow types).

    ``split``: (an integer key, a query of its minimum and maximum): on SQLite the
    query is read in ranges of that key by parallel readers, and ``sql`` must end
    with a ``WHERE`` clause that the range condition is added to.
    """

    sql: str
    schema: pa.Schema
    params: Mapping[str, Any] | None = None
    split: tuple[str, str] | None = None
    copy: Copied | None = field(default=None, compare=False)


class WriteFailed(ListguardError):
    """A backend could not carry out a write transaction (the message is the database's);
    nothing of the transaction was committed."""


def empty_table(schema: pa.Schema) -> pa.Table:
    """A table of ``schema`` without rows. ``schema.empty_table()`` loads pandas (half a
    second), as pyarrow does the first time it converts Python values."""
    return pa.Table.from_arrays([pa.nulls(0, f.type) for f in schema], schema=schema)


__all__ = ["PARAM", "Copied", "Query", "WriteFailed", "empty_table"]
