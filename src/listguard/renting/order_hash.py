"""The hash that names an order's content, so that what was previewed is what is delivered.

``order_hash(text, as_of)`` is the SHA-256 (hex) of the order normalised (its TOML
parsed, then written again as JSON with sorted keys, no spaces, UTF-8, dates and
times as ISO 8601 text) and of the day it is decided as of. Two texts that say the
same order (comments, spacing, key order, quoting, ``2026-12-01`` written as a date
or as a string) have the same hash; any change of a value changes it, and so does
the day for an order that names no ``as_of`` (previewed yesterday, it would be
decided today on other data). A preview answers with the hash; a delivery is made
only when the hash it is given is the one of the order it is given (the owner API's
``rentals:deliver``, the back office's rentals), so that nobody delivers an order
other than the one whose counts they saw. This is the only definition of it.

Text that is not TOML has no hash: ``InputError``, as ``parse_order`` says. A hash
given that is not the order's: ``OrderChanged`` (``same_order``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import tomllib

from listguard.errors import InputError, ListguardError


class OrderChanged(ListguardError):
    """The order given is not the one previewed: its hash is another."""


def _iso(value: object) -> str:
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} has no place in an order")  # pragma: no cover


def canonical(order_text: str) -> str:
    """The order as the hash covers it: sorted, compact JSON of its parsed TOML."""
    try:
        parsed = tomllib.loads(order_text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            f"not a valid TOML file: {exc}",
            where="order",
            fr=f"commande : ce n'est pas un texte TOML valide : {exc}",
        ) from None
    return json.dumps(
        parsed, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_iso
    )


def order_hash(order_text: str, as_of: dt.date) -> str:
    """SHA-256 hex of the order's canonical form (``canonical``) and of ``as_of``, the
    day it is decided as of (the order's own, or the day it is decided on)."""
    what = f"{canonical(order_text)}\n{as_of.isoformat()}"
    return hashlib.sha256(what.encode("utf-8")).hexdigest()


def same_order(order_text: str, as_of: dt.date, expected: str) -> str:
    """The order's hash, when it is ``expected`` (any case, spaces around ignored);
    ``OrderChanged`` otherwise."""
    digest = order_hash(order_text, as_of)
    if not hmac.compare_digest(digest, expected.strip().lower()):
        raise OrderChanged(
            f"this order's hash is {digest}, not {expected.strip()[:64]!r}: it is not the "
            "order previewed; preview it again and deliver what the preview showed"
        )
    return digest


__all__ = ["OrderChanged", "canonical", "order_hash", "same_order"]
