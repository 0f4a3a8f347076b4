"""Import of the owner's base (``contacts`` format).

Staging checks and normalises each batch, and stages the good rows and, for
every line, its ``contact_id``. The merge first rejects every line whose
``contact_id`` appears on several lines of the file (none of them can be
recorded faithfully), then upserts the others: a contact that changed has its
previous version copied to ``contact_versions`` first (``contact_history``
shows every version).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa
from sqlalchemy import Engine, text

from listguard.db import schema
from listguard.errors import InputError
from listguard.imports.common import (
    Check,
    FirstLoad,
    Kind,
    MergeContext,
    Rejects,
    Steps,
    blank,
    duplicate_rejects,
    duplicated_keys,
    in_the_future,
    keep_valid,
    rejects_of,
    text_or_null,
    upsert_versioned,
)
from listguard.io.dates import parse_dates_iso, parse_instants_of
from listguard.io.tabular import Batch, TabularFile
from listguard.normalise.civility import normalise_civilities
from listguard.normalise.email import normalise_emails
from listguard.normalise.phone import normalise_phones
from listguard.normalise.postal import address_status_expr, normalise_postal_code_expr
from listguard.normalise.text import by_distinct, text_keys, trimmed_lower
from listguard.timeutil import now_ts, to_day

if TYPE_CHECKING:
    from listguard.storage.query import Query

# the stored fields the file decides (the import adds import_id, recorded_at and version)
FIELDS = tuple(c for c in schema.CONTACT_FIELDS if c not in ("import_id", "recorded_at", "version"))
CHOICE_COLUMNS = tuple(f"{scope}_{ch}" for scope in ("partners", "own") for ch in schema.CHANNELS)
TEXT_COLUMNS = (
    "first_name",
    "last_name",
    "company",
    *schema.ADDRESS_LINES,
    "city",
    "collection_source",
    "notice_version",
)
KNOWN = (
    "contact_id",
    "civility",
    "audience",
    "postal_code",
    "country",
    "phone",
    "mobile",
    "email",
    "birth_date",
    "collected_at",
    *TEXT_COLUMNS,
    *CHOICE_COLUMNS,
)
REQUIRED = ("contact_id", "collected_at")
# columns compared to decide whether a re-imported row changed (derived ones follow from these)
COMPARED = (
    "civility_given",
    *TEXT_COLUMNS,
    "audience",
    "postal_code",
    "country",
    "phone",
    "mobile",
    "email",
    "birth_date",
    "collected_at",
    *CHOICE_COLUMNS,
    "attributes",
)


ADDRESS_KEY = ("address_line4", "address_line5", "postal_code", "city")
NAME_KEY = ("first_name", "last_name", "company")


def key_of(frame: pl.DataFrame, cols: tuple[str, ...]) -> pl.Series:
    """The key of ``cols`` for comparing postal coordinates, on every row of ``frame``:
    ``text_key`` of the columns joined (in capitals, without accents or punctuation,
    Œ and Æ written out). A null column adds no separator: most keys are then already
    clean, and ``text_keys`` leaves them as they are."""
    joined = frame.select(pl.concat_str(cols, separator=" ", ignore_nulls=True))
    return text_keys(joined.to_series())


def postal_keys(frame: pl.DataFrame, civility: str) -> tuple[pl.Series, pl.Series]:
    """``address_key`` (null when empty) and ``recipient_key`` (civility, name and
    address keys; null without an address) of every row of ``frame``: its address
    and name columns as normalised, and its normalised civility ``civility``."""
    address = key_of(frame, ADDRESS_KEY).replace("", None).alias("address_key")
    recipient = pl.DataFrame(
        [frame[civility].fill_null("").alias("c"), key_of(frame, NAME_KEY).alias("n"), address]
    ).select(pl.concat_str(["c", "n", "address_key"], separator="|").alias("recipient_key"))
    return address, recipient.to_series()


ERASED_MESSAGE = "this person asked to be erased: not imported again"
DUPLICATE_ID = "this contact_id appears on several lines of the file: none of them is imported"


@cache
def _checks() -> tuple[Check, ...]:
    checks = [
        Check("contact_id", blank("contact_id"), "contact_id is required"),
        Check("collected_at", blank("collected_at"), "collected_at is required"),
        Check(
            "collected_at",
            ~blank("collected_at") & pl.col("_collected_ts").is_null(),
            "collected_at is not a real date (expected 2026-03-14, 2026-03-14T09:30:00+01:00 "
            "or 14/03/2026)",
        ),
        Check(
            "audience",
            ~pl.col("_audience").is_in(["b2c", "b2b"]),
            "audience must be b2c or b2b",
        ),
        Check(
            "country",
            ~pl.col("_country").str.contains(r"^[A-Z]{2}$"),
            "country must be an ISO 3166-1 alpha-2 code such as FR",
        ),
        Check(
            "birth_date",
            ~blank("birth_date") & pl.col("_birth").is_null(),
            "birth_date is not a real date",
        ),
    ]
    for col in CHOICE_COLUMNS:
        given = pl.col(_choice(col))
        checks.append(
            Check(
                col,
                (given != "") & ~given.is_in(list(schema.CHOICE_STATES)),
                "unknown choice value: expected consent, objection, informed or empty",
            )
        )
    return tuple(checks)


def _future_checks(now: int) -> tuple[Check, ...]:
    """Dates after the import (``now``): they cannot record something that happened."""
    return (
        Check(
            "collected_at",
            in_the_future("_collected_ts", now),
            "collected_at is after the import: choices are recorded once they were made",
        ),
        Check(
            "birth_date",
            pl.col("_birth") > to_day(now).isoformat(),
            "birth_date is after the import",
        ),
    )


def _choice(col: str) -> str:
    """The column of ``_prepare`` holding the choice ``col`` trimmed and lower-cased."""
    return f"_choice_{col}"


def _prepare(frame: pl.DataFrame, extra: list[str]) -> pl.DataFrame:
    audience = pl.col("audience").str.strip_chars().str.to_lowercase()
    country = pl.col("country").str.strip_chars().str.to_uppercase()
    return frame.with_columns(
        parse_instants_of(frame["collected_at"]).alias("_collected_ts"),
        pl.when(audience == "").then(pl.lit("b2c")).otherwise(audience).alias("_audience"),
        pl.when(country == "").then(pl.lit("FR")).otherwise(country).alias("_country"),
        parse_dates_iso(pl.col("birth_date")).alias("_birth"),
        *(trimmed_lower(frame[c], schema.CHOICE_STATES).alias(_choice(c)) for c in CHOICE_COLUMNS),
    )


def _normalise(frame: pl.DataFrame, extra: list[str]) -> pl.DataFrame:
    phones = normalise_phones(frame["phone"])
    mobiles = normalise_phones(frame["mobile"])
    emails = normalise_emails(frame["email"])
    attributes = (
        pl.struct([pl.col(c) for c in extra]).struct.json_encode()
        if extra
        else pl.lit(None, dtype=pl.String)
    )
    out = frame.with_columns(
        pl.col("contact_id").str.strip_chars(),
        normalise_civilities(frame["civility"]).alias("civility_norm"),
        text_or_null("civility").alias("civility_given"),
        *[text_or_null(c) for c in (*TEXT_COLUMNS, "phone", "mobile", "email")],
        by_distinct(frame["postal_code"], normalise_postal_code_expr("v"), pl.String).alias(
            "postal_code"
        ),
        pl.col("_audience").alias("audience"),
        pl.col("_country").alias("country"),
        pl.col("_birth").alias("birth_date"),
        pl.col("_collected_ts").alias("collected_at"),
        *[
            pl.when(pl.col(_choice(c)) == "")
            .then(pl.lit(None, dtype=pl.String))
            .otherwise(pl.col(_choice(c)))
            .alias(c)
            for c in CHOICE_COLUMNS
        ],
        phones["e164"].alias("phone_e164"),
        phones["line_type"].alias("phone_type"),
        mobiles["e164"].alias("mobile_e164"),
        mobiles["line_type"].alias("mobile_type"),
        emails["email"].alias("email_norm"),
        pl.when(emails["valid"].is_null())
        .then(pl.lit(None, dtype=pl.String))
        .when(emails["valid"])
        .then(pl.lit("valid"))
        .otherwise(pl.lit("invalid"))
        .alias("email_status"),
        attributes.alias("attributes"),
    )
    out = out.with_columns(
        address_status_expr().alias("address_status"), *postal_keys(out, "civility_norm")
    )
    out = out.rename({"civility": "civility_raw"}).rename({"civility_norm": "civility"})
    return out.select("_line", "contact_id", *FIELDS)


def normalise_row(raw: dict[str, str]) -> dict[str, Any]:
    """One contact row of the contacts format (text values; unknown keys are extra
    attributes), checked and normalised exactly as an import does; a bad value raises
    ``InputError`` naming the column."""
    done = normalise_rows([raw])[0]
    if isinstance(done, InputError):
        raise done
    return done


def normalise_rows(raws: Sequence[dict[str, str]]) -> list[dict[str, Any] | InputError]:
    """Rows of the contacts format checked and normalised together, exactly as an import
    does (one batch: the fixed cost of the columnar path is paid once); each is its
    normalised row, or the ``InputError`` of its first bad value."""
    extra = sorted({c for raw in raws for c in raw if c not in KNOWN})
    names = (*KNOWN, *extra)
    frame = pl.DataFrame(
        {
            "_line": list(range(1, len(raws) + 1)),
            **{
                c: [raw.get(c, "") if c in KNOWN or c in raw else None for raw in raws]
                for c in names
            },
        },
        schema={"_line": pl.Int64, **dict.fromkeys(names, pl.String)},
    )
    prepared = _prepare(frame, extra)
    errors: dict[int, InputError] = {}
    checks = (*_checks(), *_future_checks(now_ts()))
    for bad in rejects_of(prepared, checks).iter_rows(named=True):
        errors.setdefault(
            int(bad["line"]),
            InputError(f"{bad['value']!r}: {bad['message']}", where=str(bad["column"])),
        )
    rows = _normalise(prepared, extra).iter_rows(named=True)
    out: list[dict[str, Any] | InputError] = []
    for line, row in enumerate(rows, 1):
        if line in errors:
            out.append(errors[line])
            continue
        if extra and row.get("attributes") and any(c not in raws[line - 1] for c in extra):
            # the extra fields of this row only, encoded as the columnar path encodes them
            own = {k: v for k, v in json.loads(row["attributes"]).items() if v is not None}
            row["attributes"] = (
                json.dumps(own, ensure_ascii=False, separators=(",", ":")) if own else None
            )
        out.append({k: v for k, v in row.items() if k != "_line"})
    return out


def _erased_filter(engine: Engine) -> Callable[[pl.DataFrame], pl.Series] | None:
    """A test of normalised rows against the persons erased from the registry (their keyed
    digests), or None when nobody was erased. The digests are computed by DuckDB, column
    by column."""
    from listguard.rights import erasure_secret

    with engine.connect() as conn:
        secret = erasure_secret(conn, create=False)
        if secret is None:
            return None
        digests = conn.execute(text("SELECT kind, digest FROM erased")).all()
    table = pa.table(
        {"kind": [d[0] for d in digests], "digest": [d[1] for d in digests]},
        schema=pa.schema([("kind", pa.string()), ("digest", pa.string())]),
    )

    def hit(rows: pl.DataFrame) -> pl.Series:
        import duckdb

        db = duckdb.connect()
        try:
            db.register("erased", table)
            db.register("batch", rows.select(*_ERASABLE).to_arrow())
            tests = " OR ".join(
                f"coalesce(sha256($s || ':{kind}:' || {col}) IN "
                f"(SELECT digest FROM erased WHERE kind = '{kind}'), FALSE)"
                for col, kind in _ERASABLE.items()
            )
            flags = db.sql(f"SELECT {tests} AS erased FROM batch", params={"s": secret})
            column = pl.from_arrow(flags.to_arrow_table())
        finally:
            db.close()
        assert isinstance(column, pl.DataFrame)
        return column.to_series()

    return hit


# the identifiers of a normalised contact row that an erasure keeps digests of
_ERASABLE = {
    "contact_id": "contact_id",
    "email_norm": "email",
    "phone_e164": "phone",
    "mobile_e164": "phone",
}


def _copy_query() -> Query:
    """The contacts' columnar copy, which a first load writes (ADR 0015)."""
    from listguard.rules.extracts import contacts_copy_query

    return contacts_copy_query()


def _steps(tab: TabularFile, engine: Engine) -> Steps:
    extra = [c for c in tab.columns if c not in KNOWN]
    checks = (*_checks(), *_future_checks(now_ts()))
    erased = _erased_filter(engine)

    def stage(batch: Batch, rejects: Rejects) -> dict[str, pl.DataFrame]:
        frame = _prepare(batch.frame, extra)
        ids = frame.select(
            pl.col("_line").alias("line"), pl.col("contact_id").str.strip_chars()
        ).filter(pl.col("contact_id") != "")
        good = keep_valid(frame, checks, rejects)
        rows = _normalise(good, extra)
        if erased is not None and rows.height:
            hit = erased(rows)
            rejects.add(
                rows.filter(hit).select(
                    pl.col("_line").alias("line"),
                    pl.lit("contact_id").alias("column"),
                    pl.col("contact_id").alias("value"),
                    pl.lit(ERASED_MESSAGE).alias("message"),
                )
            )
            rows = rows.filter(~hit)
        return {"contacts": rows.drop("_line"), "ids": ids}

    def merge(ctx: MergeContext) -> None:
        conn, ids = ctx.conn, ctx.table("ids")
        dup = duplicated_keys(ids, "contact_id")
        lines = conn.execute(
            text(f"SELECT line, contact_id FROM {ids} WHERE contact_id IN ({dup})")
        ).all()
        table = pa.table(
            {"line": [int(r[0]) for r in lines], "contact_id": [r[1] for r in lines]},
            schema=pa.schema([("line", pa.int64()), ("contact_id", pa.string())]),
        )
        ctx.rejects.add(duplicate_rejects(table, "contact_id", DUPLICATE_ID))
        # into an empty registry, look-up indexes are built once at the end (sorted, fast)
        first_load = conn.execute(text("SELECT 1 FROM contacts LIMIT 1")).first() is None
        deferred = [i for i in schema.contacts.indexes if not i.unique] if first_load else []
        for index in deferred:
            index.drop(conn)
        upsert_versioned(
            ctx,
            schema.contacts,
            schema.contact_versions,
            "contact_id",
            FIELDS,
            COMPARED,
            ctx.table("contacts"),
            where=f"s.contact_id NOT IN ({dup})",
        )
        for index in deferred:
            index.create(conn)

    first = FirstLoad(
        schema.contacts, "contacts", "ids", "contact_id", DUPLICATE_ID, copy=_copy_query
    )
    return Steps(stage, merge, first_load=first, attributes=tuple(extra))


KIND = Kind("contacts", REQUIRED, KNOWN, _steps)
