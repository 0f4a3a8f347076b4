"""The published partner list, derived from the partners' listing dates.

A new version of the list starts on every date a partner joins or leaves it;
version numbers count those dates, so they never go back and are never reused.
"""

from __future__ import annotations

from sqlalchemy import Connection, text


def partner_list_version(conn: Connection, at: int) -> tuple[int, int | None]:
    """(version number, start of that version) of the list in force at instant ``at``."""
    row = conn.execute(
        text(
            "SELECT COUNT(DISTINCT d), MAX(d) FROM ("
            " SELECT listed_from AS d FROM partners WHERE listed_from IS NOT NULL"
            " UNION ALL SELECT listed_until FROM partners WHERE listed_until IS NOT NULL"
            ") x WHERE d <= :at"
        ),
        {"at": at},
    ).one()
    return int(row[0]), (int(row[1]) if row[1] is not None else None)
