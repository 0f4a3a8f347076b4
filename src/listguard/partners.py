"""The partner service: one partner created or changed, as the back office saves it.

The row is checked as the partners import checks a line (``domain.partner_rows``),
then recorded in one transaction with its audit entry: a new partner at version 1,
a changed one as a new version (the previous one kept in ``partner_versions``), an
unchanged one left as it is. The save is recorded in ``imports`` as a one-row import
of partners, as a file would be, so every version names where it came from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Literal

import polars as pl
from sqlalchemy import Connection, Engine, insert, select, update

from listguard import audit
from listguard.db import schema
from listguard.domain.partner_rows import COMPARED, KNOWN, SECTORS, checked_partners
from listguard.errors import InputError
from listguard.partner_ids import RULE as PARTNER_ID_RULE
from listguard.storage.engine import writing
from listguard.timeutil import now_ts

Outcome = Literal["new", "changed", "unchanged"]

# the checks' messages (``domain.partner_rows``) as the back office's French form says them
_FRENCH = {
    "partner_id is required": "l'identifiant est obligatoire",
    PARTNER_ID_RULE: "un identifiant de partenaire a de 1 à 64 lettres, chiffres, '_', '.' ou "
    "'-', commence par une lettre ou un chiffre, sans '..'",
    "this partner_id appears on several lines of the file": "cet identifiant figure sur "
    "plusieurs lignes du fichier",
    "name is required": "le nom est obligatoire",
    "category is required": "la catégorie est obligatoire",
    f"sector must be one of {', '.join(SECTORS)}": "le secteur doit être l'un de : "
    + ", ".join(SECTORS),
    "listed_from is not a real date": "la date d'entrée dans la liste n'est pas une vraie date",
    "listed_from is after the import: a partner is listed from the day it is added to the "
    "list, not before": "la date d'entrée dans la liste est dans le futur : un partenaire y "
    "figure à partir du jour où il y est ajouté, pas avant",
    "listed_until is not a real date": "la date de sortie de la liste n'est pas une vraie date",
    "listed_until is before listed_from": "la date de sortie de la liste précède la date d'entrée",
}


# why an address is refused (``netguard``: a row's message is "column: why")
_FRENCH_URL = {
    "an address is required": "une adresse est obligatoire",
    "spaces, control characters or \\ are not accepted": "espaces, caractères de "
    "contrôle et \\ sont refusés",
    "an IPv6 zone is not accepted": "une zone IPv6 est refusée",
    "not a valid IPv6 address": "ce n'est pas une adresse IPv6 valide",
    "a numeric host must be written a.b.c.d": "un hôte numérique s'écrit a.b.c.d",
    "the host is not a valid name": "l'hôte n'est pas un nom valide",
    "https://... expected": "https://... attendu",
    "a user name or password is not accepted in the address": "un nom d'utilisateur ou "
    "un mot de passe est refusé dans l'adresse",
    "no host": "aucun hôte",
    "the host is not a public address": "l'hôte n'est pas une adresse publique",
    "the host is not a public name": "l'hôte n'est pas un nom public",
    "http:// or https:// expected": "http:// ou https:// attendu",
    "a host name (and no user name) is expected": "un nom d'hôte (sans nom "
    "d'utilisateur) est attendu",
}


def _in_french(message: str) -> str:
    """A check's message in French (in English when none is known: an address's
    reason that its parser gives, such as a bad port)."""
    if message in _FRENCH:
        return _FRENCH[message]
    _column, said, why = message.partition(": ")  # an address's: "column: why"
    return _FRENCH_URL.get(why, why) if said else message


def check_partner_row(row: Mapping[str, str], now: int) -> dict[str, object]:
    """The stored fields of one partner given as text (the partners format's columns),
    or ``InputError`` naming every column refused and why."""
    unknown = sorted(set(row) - set(KNOWN))
    if unknown:
        raise InputError(
            f"unknown field(s) {', '.join(unknown)}", fr=f"champ(s) inconnu(s) {', '.join(unknown)}"
        )
    if any("\x00" in v for v in row.values()):
        raise InputError("a NUL character is not accepted", fr="un caractère NUL est refusé")
    frame = pl.DataFrame(
        {"_line": [1], **{k: [row.get(k, "")] for k in KNOWN}},
        schema={"_line": pl.Int64, **dict.fromkeys(KNOWN, pl.String)},
    )
    refused: list[pl.DataFrame] = []
    rows = checked_partners(frame, refused.append, now)
    bad = [r for part in refused for r in part.iter_rows(named=True)]
    if bad:
        raise InputError(
            "; ".join(f"{b['column']}: {b['message']}" for b in bad),
            fr=" ; ".join(f"{b['column']} : {_in_french(b['message'])}" for b in bad),
        )
    return rows.row(0, named=True)


def save_partner(engine: Engine, row: Mapping[str, str], *, by: str) -> Outcome:
    """Create or change one partner (``by``: who saves it, for the audit log), in one
    transaction with its audit entry; returns what happened to it."""
    now = now_ts()
    fields = check_partner_row(row, now)
    with writing(engine) as conn:
        outcome = _record(conn, fields, by, now)
        if outcome != "unchanged":
            audit.append(
                conn,
                f"partner_{outcome}",
                str(fields["partner_id"]),
                {"by": by, "listed_until": row.get("listed_until") or None},
                now,
            )
    return outcome


def _record(conn: Connection, fields: Mapping[str, object], by: str, now: int) -> Outcome:
    """Write the partner ``fields`` as a one-row import; what happened to it."""
    partners, versions = schema.partners, schema.partner_versions
    partner_id = fields["partner_id"]
    stored = conn.execute(select(partners).where(partners.c.partner_id == partner_id)).first()
    given = {c: fields[c] for c in COMPARED}
    if stored is not None and all(stored._mapping[c] == v for c, v in given.items()):
        outcome: Outcome = "unchanged"
    else:
        outcome = "new" if stored is None else "changed"
    import_id = conn.execute(
        insert(schema.imports)
        .values(
            kind="partners",
            file_name=f"partner {partner_id} saved by {by}",
            file_sha256=hashlib.sha256(
                json.dumps(given, sort_keys=True, default=str).encode()
            ).hexdigest(),
            started_at=now,
            finished_at=now,
            rows_read=1,
            rows_new=int(outcome == "new"),
            rows_changed=int(outcome == "changed"),
            rows_unchanged=int(outcome == "unchanged"),
            rows_rejected=0,
        )
        .returning(schema.imports.c.id)
    ).scalar_one()
    stamps = {"import_id": import_id, "recorded_at": now}
    if stored is None:
        conn.execute(insert(partners).values(partner_id=partner_id, **given, **stamps, version=1))
    elif outcome == "changed":
        kept = {c.name: stored._mapping[c.name] for c in partners.columns}
        conn.execute(insert(versions).values(**kept))
        conn.execute(
            update(partners)
            .where(partners.c.partner_id == partner_id)
            .values(**given, **stamps, version=partners.c.version + 1)
        )
    return outcome


__all__ = ["Outcome", "check_partner_row", "save_partner"]
