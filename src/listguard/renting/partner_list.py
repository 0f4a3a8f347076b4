"""The published partner list, derived from the partners' listing dates.

A new version of the list starts on every date a partner joins or leaves it;
version numbers count those dates, so they never go back and are never reused.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from listguard.netguard import link_problem
from listguard.timeutil import to_iso


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


def _dates(conn: Connection, until: int) -> list[int]:
    rows = conn.execute(
        text(
            "SELECT DISTINCT d FROM ("
            " SELECT listed_from AS d FROM partners WHERE listed_from IS NOT NULL"
            " UNION ALL SELECT listed_until FROM partners WHERE listed_until IS NOT NULL"
            ") x WHERE d <= :at ORDER BY d"
        ),
        {"at": until},
    ).scalars()
    return [int(d) for d in rows]


def list_versions(conn: Connection, now: int) -> list[tuple[int, int]]:
    """Every published version of the list: (number, start), the newest last."""
    return [(i, d) for i, d in enumerate(_dates(conn, now), 1)]


def published_list(conn: Connection, now: int, version: int | None = None) -> dict[str, Any] | None:
    """The partner list as published (the current version, or ``version``), in the shape
    of the IAB TCF vendor list: version number, when it took effect, and the partners by
    their ids, which are never reused. None for a version that does not exist."""
    versions = list_versions(conn, now)
    if not versions:
        number, start = 0, None
    elif version is None:
        number, start = versions[-1]
    elif 1 <= version <= len(versions):
        number, start = versions[version - 1]
    else:
        return None
    at = start if start is not None else now
    rows = conn.execute(
        text(
            "SELECT partner_id, name, legal_name, category, privacy_policy_url, listed_from "
            "FROM partners WHERE listed_from IS NOT NULL AND listed_from <= :at "
            "AND (listed_until IS NULL OR listed_until > :at) ORDER BY partner_id"
        ),
        {"at": at},
    ).all()
    return {
        "version": number,
        "last_updated": to_iso(start) if start is not None else None,
        "current": number == (versions[-1][0] if versions else 0),
        "partners": [
            {
                "id": r.partner_id,
                "name": r.name,
                "legal_name": r.legal_name or r.name,
                "category": r.category,
                # a link stored before links were checked is not shown unless http(s)
                "privacy_policy_url": r.privacy_policy_url
                if r.privacy_policy_url and link_problem(r.privacy_policy_url) is None
                else None,
                "listed_since": to_iso(int(r.listed_from))[:10],
            }
            for r in rows
        ],
        "categories": sorted({r.category for r in rows}),
    }
