"""Import of events (consents, oppositions, list notices, interactions, erasures).

An event names the person by ``contact_id``, or by ``email`` or ``phone``; in the
latter case it applies, when rules are evaluated, to every contact holding that
coordinate (including contacts imported later). Events are append-only; the
same event imported twice is recorded once.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
from sqlalchemy import Engine

from listguard import audit
from listguard.db import schema
from listguard.domain.erased import ERASED_MESSAGE, erased_filter
from listguard.domain.events import KEY_FIELDS, event_key, event_key_expr
from listguard.domain.rows import Check, blank, in_the_future, text_or_null
from listguard.domain.scopes import PARTNER_PREFIX, scope_ok, via_ok
from listguard.domain.vocabulary import EVENT_CHANNELS, EVENT_KINDS, VIAS
from listguard.erasure import erase_events
from listguard.imports.common import (
    Kind,
    MergeContext,
    Rejects,
    Steps,
    keep_valid,
    merge_new,
)
from listguard.io.dates import parse_instants_of
from listguard.io.tabular import Batch, TabularFile
from listguard.normalise.email import normalise_emails
from listguard.normalise.phone import SEVERAL, normalise_phones, refused_as_several
from listguard.propagation.outbox import enqueue
from listguard.timeutil import now_ts

KNOWN = ("contact_id", "email", "phone", "event", "channel", "scope", "at", "via", "detail")
REQUIRED = ("event", "at")
# events whose channel and scope may be left empty, meaning all
_ALL_BY_DEFAULT = ("opposition", "erasure", "informed_partner_list", "interaction")


def _prepare(frame: pl.DataFrame) -> pl.DataFrame:
    low = {c: pl.col(c).str.strip_chars().str.to_lowercase() for c in ("event", "channel", "via")}
    scope = pl.col("scope").str.strip_chars()
    scope = (
        pl.when(scope.str.to_lowercase().str.starts_with("partner:"))
        .then(pl.lit("partner:") + scope.str.slice(8).str.strip_chars())
        .otherwise(scope.str.to_lowercase())
    )
    event = low["event"]
    default_all = event.is_in(list(_ALL_BY_DEFAULT))
    phones = normalise_phones(frame["phone"])
    emails = normalise_emails(frame["email"])
    return frame.with_columns(
        event.alias("_event"),
        pl.when((low["channel"] == "") & default_all)
        .then(pl.lit("all"))
        .otherwise(low["channel"])
        .alias("_channel"),
        pl.when((scope == "") & default_all).then(pl.lit("all")).otherwise(scope).alias("_scope"),
        low["via"].alias("_via"),
        parse_instants_of(frame["at"]).alias("_at"),
        phones["e164"].alias("_phone"),
        refused_as_several(frame["phone"], phones["e164"]).alias("_several"),
        emails["email"].alias("_email"),
    )


def _checks(now: int) -> list[Check]:
    return [
        Check(
            "event",
            ~pl.col("_event").is_in(list(EVENT_KINDS)),
            f"event must be one of {', '.join(EVENT_KINDS)}",
        ),
        Check(
            "channel",
            ~pl.col("_channel").is_in(list(EVENT_CHANNELS)),
            f"channel must be one of {', '.join(EVENT_CHANNELS)}",
        ),
        Check(
            "scope",
            ~scope_ok(pl.col("_scope")),
            "scope must be own, partners, all or partner:<partner_id>",
        ),
        Check("at", blank("at"), "at (the date of the event) is required"),
        Check("at", ~blank("at") & pl.col("_at").is_null(), "at is not a real date"),
        Check(
            "at",
            in_the_future("_at", now),
            "at is after the import: an event is recorded once it has happened",
        ),
        Check(
            "via",
            (pl.col("_via") != "") & ~via_ok(pl.col("_via")),
            f"via must be one of {', '.join(VIAS)} or partner:<partner_id>",
        ),
        Check(
            "contact_id",
            blank("contact_id") & blank("email") & blank("phone"),
            "the person must be named by contact_id, email or phone",
        ),
        Check(
            "email",
            blank("contact_id") & ~blank("email") & pl.col("_email").is_null(),
            "not a valid email address, so it cannot name a person",
        ),
        Check(
            "phone",
            blank("contact_id")
            & blank("email")
            & ~blank("phone")
            & pl.col("_phone").is_null()
            & pl.col("_several"),
            f"not a valid phone number, so it cannot name a person: {SEVERAL}",
        ),
        Check(
            "phone",
            blank("contact_id")
            & blank("email")
            & ~blank("phone")
            & pl.col("_phone").is_null()
            & ~pl.col("_several"),
            "not a valid phone number, so it cannot name a person",
        ),
    ]


def _rows(frame: pl.DataFrame) -> pl.DataFrame:
    by_id = ~blank("contact_id")
    out = frame.select(
        text_or_null("contact_id"),
        pl.when(by_id)
        .then(pl.lit(None, dtype=pl.String))
        .otherwise(pl.col("_email"))
        .alias("email_norm"),
        pl.when(by_id | pl.col("_email").is_not_null())
        .then(pl.lit(None, dtype=pl.String))
        .otherwise(pl.col("_phone"))
        .alias("phone_e164"),
        pl.col("_event").alias("event"),
        pl.col("_channel").alias("channel"),
        pl.col("_scope").alias("scope"),
        pl.when(pl.col("_scope").str.starts_with(PARTNER_PREFIX))
        .then(pl.col("_scope").str.slice(len(PARTNER_PREFIX)))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("partner_id"),
        pl.col("_at").alias("at"),
        pl.when(pl.col("_via") == "")
        .then(pl.lit(None, dtype=pl.String))
        .otherwise(pl.col("_via"))
        .alias("via"),
        text_or_null("detail"),
    )
    return out.with_columns(event_key_expr())


def _not_erased(
    frame: pl.DataFrame,
    erased: Callable[[pl.DataFrame], pl.Series],
    rejects: Rejects,
    message: str,
) -> pl.DataFrame:
    """The rows of ``frame`` (checked) that name no erased person; the others go to
    ``rejects``: the identifiers of an erased person are not written again. An erasure
    naming them is kept (it names them only until it is applied, in this import)."""
    named = frame.select(
        text_or_null("contact_id"),
        pl.col("_email").alias("email_norm"),
        pl.col("_phone").alias("phone_e164"),
        pl.lit(None, dtype=pl.String).alias("mobile_e164"),
    )
    hit = erased(named) & (frame["_event"] != "erasure")
    rejects.add(
        frame.filter(hit).select(
            pl.col("_line").alias("line"),
            pl.lit("contact_id").alias("column"),
            pl.concat_str(
                [pl.col("contact_id"), pl.col("email"), pl.col("phone")],
                separator=" ",
                ignore_nulls=True,
            )
            .str.strip_chars()
            .alias("value"),
            pl.lit(message).alias("message"),
        )
    )
    return frame.filter(~hit)


def _steps(tab: TabularFile, engine: Engine) -> Steps:
    checks = _checks(now_ts())
    erased = erased_filter(engine)  # the check of erased persons a contacts import makes

    def stage(batch: Batch, rejects: Rejects) -> dict[str, pl.DataFrame]:
        frame = keep_valid(_prepare(batch.frame), checks, rejects)
        if erased is not None and frame.height:
            frame = _not_erased(frame, erased, rejects, ERASED_MESSAGE)
        return {"events": _rows(frame)}

    def merge(ctx: MergeContext) -> None:
        merge_new(ctx, schema.events, "event_key", ctx.table("events"))
        # oppositions and erasures travel to the partners holding the person, in this
        # transaction; the deliveries of the retention period count, as on every route
        messages = enqueue(
            ctx.conn, "e.import_id = :import_id", {"import_id": ctx.import_id}, ctx.retention
        )
        audit.append(
            ctx.conn,
            "events_imported",
            None,
            {"import": ctx.import_id, "new": ctx.report.rows_new, "messages": messages},
            ctx.now,
        )
        # an erasure erases the person here as on every route, once its messages are queued
        erased = erase_events(
            ctx.conn,
            "e.import_id = :import_id",
            {"import_id": ctx.import_id},
            detail={"import": ctx.import_id},
        )
        ctx.report.erasure = erased if erased.persons else None

    return Steps(stage, merge)


KIND = Kind("events", REQUIRED, KNOWN, _steps)

# an event's identity is the domain's (``domain.events``); named here too, as the
# import computes it
__all__ = ["KEY_FIELDS", "KIND", "KNOWN", "event_key", "event_key_expr"]
