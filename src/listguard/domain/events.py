"""An event's identity: the same event recorded twice, by any route, is one event.

The key is the event's content joined by a separator no value holds; the events
import computes it for a whole batch (``event_key_expr``), the forms and the API for
one event (``event_key``), and both give the same text.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

KEY_FIELDS = ("contact_id", "email_norm", "phone_e164", "event", "channel", "scope", "at", "via")


def event_key_expr() -> pl.Expr:
    """An event's identity: its content, so the same event imported twice is recorded once."""
    return pl.concat_str(
        [pl.col(c).cast(pl.String).fill_null("") for c in (*KEY_FIELDS, "detail")],
        separator="\x1f",
    ).alias("event_key")


def event_key(row: Mapping[str, object]) -> str:
    """``event_key_expr`` of one event given as a mapping (the single-event path)."""
    return "\x1f".join("" if row.get(c) is None else str(row[c]) for c in (*KEY_FIELDS, "detail"))


__all__ = ["KEY_FIELDS", "event_key", "event_key_expr"]
