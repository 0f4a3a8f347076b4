"""Seeds: control addresses the owner plants in a rented file.

A seed is a coordinate the owner controls (a team member's address, a mailbox, a
line): whatever reaches it after the campaign, or from another sender, shows that
the file was used beyond the rental. The pool is a small file named in the
configuration (``[seeds] file``), with a ``seed_id`` and the columns of the
partner's ``contacts.csv`` (``shared/spec/formats.md``). An order's ``seeds = N``
plants the N least-planted seeds that have a coordinate on a rented channel; each
gets a ``contact_ref`` of the same series as the contacts, at a random place in the
file, and is recorded in ``delivery_seeds`` so that a seed's mail can be traced back
to the deliveries that carried it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, func, select

from listguard.db import schema
from listguard.domain.vocabulary import NUMBER_CHANNELS
from listguard.errors import InputError
from listguard.rules.extracts import POSTAL_FIELDS
from listguard.storage.query import empty_table

COLUMNS = ("seed_id", *POSTAL_FIELDS, *NUMBER_CHANNELS, "email")


@dataclass(frozen=True)
class Seed:
    seed_id: str
    fields: dict[str, str]  # column -> value, normalised, only those present

    def channels(self) -> set[str]:
        """The channels this seed can receive."""
        out = {ch for ch in (*NUMBER_CHANNELS, "email") if self.fields.get(ch)}
        if self.fields.get("postal_code") and self.fields.get("city"):
            out.add("postal")
        return out


def load_seeds(path: str | Path) -> list[Seed]:
    """The seed pool; a seed file is small and written by the owner, so any bad row
    stops the rental with its line and column rather than being skipped."""
    # the tabular reader and the normalisers load Polars: only a rental with seeds needs them
    from listguard.io.tabular import open_tabular, require_columns
    from listguard.normalise.email import normalise_email
    from listguard.normalise.phone import normalise_phone

    tab = open_tabular(path)
    require_columns(tab, ("seed_id",))
    where = str(path)
    unknown = sorted(set(tab.columns) - set(COLUMNS))
    if unknown:
        raise InputError(
            f"unknown column(s) {', '.join(unknown)} in the seed file; expected among "
            f"{', '.join(COLUMNS)}",
            where=where,
        )
    seeds: list[Seed] = []
    seen: set[str] = set()
    for batch in tab.batches():
        for row in batch.frame.iter_rows(named=True):
            line = row.pop("_line")
            at = f"{where}:{line}"
            sid = (row.pop("seed_id") or "").strip()
            if not sid:
                raise InputError("seed_id is empty", where=at)
            if sid in seen:
                raise InputError(f"seed_id {sid!r} appears twice", where=at)
            seen.add(sid)
            fields: dict[str, str] = {}
            for col, raw in row.items():
                value = (raw or "").strip()
                if not value:
                    continue
                if col in NUMBER_CHANNELS:
                    e164, line_type = normalise_phone(value)
                    if e164 is None or line_type == "invalid":
                        raise InputError(f"{col}: {value!r} is not a phone number", where=at)
                    value = e164
                elif col == "email":
                    email, valid = normalise_email(value)
                    if not valid or email is None:
                        raise InputError(f"email: {value!r} is not an email address", where=at)
                    value = email
                fields[col] = value
            seeds.append(Seed(sid, fields))
    return seeds


def choose(
    conn: Connection, pool: Sequence[Seed], channels: Sequence[str], wanted: int, where: str
) -> list[Seed]:
    """``wanted`` seeds that can receive at least one of ``channels``: the least planted
    so far first (so that each delivery's set differs and a leak points at few
    deliveries), then by ``seed_id``."""
    usable = [s for s in pool if s.channels() & set(channels)]
    if len(usable) < wanted:
        raise InputError(
            f"seeds = {wanted}, but the seed file has {len(usable)} seed(s) with a coordinate "
            f"on {', '.join(channels)}",
            where=where,
        )
    ds = schema.delivery_seeds
    planted: dict[str, int] = {
        sid: n for sid, n in conn.execute(select(ds.c.seed_id, func.count()).group_by(ds.c.seed_id))
    }
    usable.sort(key=lambda s: (planted.get(s.seed_id, 0), s.seed_id))
    return usable[:wanted]


def seed_table(seeds: Sequence[Seed], channels: Sequence[str], first_cid: int) -> pa.Table:
    """The chosen seeds as rows shaped like the partner's file, numbered from
    ``first_cid`` (past every contact's ``cid``), with only the rented channels filled."""
    names = [*POSTAL_FIELDS] if "postal" in channels else []
    names += [ch for ch in channels if ch != "postal"]
    layout = pa.schema(
        [("cid", pa.int64()), ("seed_id", pa.string()), *((c, pa.string()) for c in names)]
    )
    if not seeds:  # as usual: built without converting Python values, which loads pandas
        return empty_table(layout)
    cols: dict[str, list[Any]] = {
        "cid": list(range(first_cid, first_cid + len(seeds))),
        "seed_id": [s.seed_id for s in seeds],
        **{c: [] for c in names},
    }
    for s in seeds:
        postal = "postal" in s.channels()
        for c in names:
            cols[c].append(s.fields.get(c) if postal or c not in POSTAL_FIELDS else None)
    return pa.table(cols, schema=layout)


@dataclass(frozen=True)
class Traced:
    delivery_id: int
    partner_id: str
    delivered_on: str  # the delivery's as_of date
    seed_id: str
    contact_ref: str
    matched: str  # the field that matched


def trace(conn: Connection, what: str) -> list[Traced]:
    """The deliveries that carried a seed, found by its ``seed_id`` or one of its
    coordinates as received (an email address, a phone number in any usual form, a
    last name or an address line): the partners to ask how it was used."""
    from listguard.normalise.email import normalise_email
    from listguard.normalise.phone import normalise_phone

    wanted = {what.strip(), what.strip().upper()}
    email, valid = normalise_email(what)
    if valid and email:
        wanted.add(email)
    e164, _ = normalise_phone(what)
    if e164:
        wanted.add(e164)
    d, ds = schema.deliveries, schema.delivery_seeds
    rows = conn.execute(
        select(d.c.id, d.c.partner_id, d.c.as_of, ds.c.seed_id, ds.c.contact_ref, ds.c.planted)
        .join_from(ds, d, d.c.id == ds.c.delivery_id)
        .order_by(d.c.id, ds.c.seed_id)
    )
    found = []
    for did, partner, as_of, sid, ref, planted in rows:  # the seeds ever planted: few
        fields = {"seed_id": sid, **json.loads(planted)}
        hit = next(
            (
                k
                for k, v in fields.items()
                if any(t in wanted or t.upper() in wanted for t in v.split("|"))
            ),
            None,
        )
        if hit is not None:
            found.append(Traced(did, partner, as_of, sid, ref, hit))
    return found


__all__ = ["COLUMNS", "Seed", "Traced", "choose", "load_seeds", "seed_table", "trace"]
