"""A partner's rental order (TOML, ``shared/spec/formats.md``), read and checked."""

from __future__ import annotations

import contextlib
import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from listguard.db.schema import CHANNELS
from listguard.errors import InputError, Notice
from listguard.rules.offers import OFFERS
from listguard.rules.packs import CALL_PURPOSES
from listguard.timeutil import today

_KEYS = {
    "partner",
    "channels",
    "purpose",
    "call_purpose",
    "offer",
    "campaign_start",
    "campaign_end",
    "as_of",
    "limit",
    "seeds",
    "segment",
}
_SEGMENT_KEYS = {"postal_code_prefix", "audience"}
# the days an order may name: instants are Unix seconds, and a rental computes days
# around its dates (a year 9999 would overflow Python's dates)
FIRST_DAY, LAST_DAY = dt.date(1970, 1, 1), dt.date(2099, 12, 31)
MAX_ORDER_BYTES = 1 << 20  # an order is a few lines


@dataclass(frozen=True)
class Segment:
    postal_code_prefix: tuple[str, ...] = ()
    audience: str | None = None


@dataclass(frozen=True)
class Order:
    partner: str
    channels: tuple[str, ...]
    purpose: str
    campaign_start: dt.date
    campaign_end: dt.date
    as_of: dt.date
    call_purpose: str = "commercial"
    offer: str = "general"
    limit: int | None = None
    seeds: int = 0
    segment: Segment = field(default_factory=Segment)
    text: str = ""


def _bad(where: str, message: str, fr: str) -> InputError:
    """A mistake in the order, said in English and in French (the back office's form)."""
    place = "commande" if where == "order" else where
    return InputError(message, where=where, fr=f"{place} : {fr}")


def _date(value: Any, key: str, where: str) -> dt.date:
    day: dt.date | None = None
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            day = dt.date.fromisoformat(value.strip())
    if day is None:
        raise _bad(
            where,
            f"{key} must be a date such as 2026-12-01, got {value!r}",
            f"{key} doit être une date telle que 2026-12-01, pas {value!r}",
        )
    if not FIRST_DAY <= day <= LAST_DAY:
        raise _bad(
            where,
            f"{key} must be a date between {FIRST_DAY} and {LAST_DAY}, got {day}",
            f"{key} doit être une date entre le {FIRST_DAY} et le {LAST_DAY}, pas {day}",
        )
    return day


def parse_order(text: str, *, where: str = "order", as_of: dt.date | None = None) -> Order:
    """An :class:`Order` from TOML text; every mistake is reported with its key.
    ``as_of``: the delivery date to use instead of the order's (a past delivery's,
    as the ledger recorded it)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _bad(
            where, f"not a valid TOML file: {exc}", f"ce n'est pas un texte TOML valide : {exc}"
        ) from None
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise _bad(
            where,
            f"unknown key(s) {', '.join(unknown)}",
            f"clé(s) inconnue(s) {', '.join(unknown)}",
        )
    for key in ("partner", "channels", "purpose", "campaign_start", "campaign_end"):
        if key not in raw:
            raise _bad(where, f"{key} is required", f"{key} est obligatoire")
    partner = raw["partner"]
    if not isinstance(partner, str) or not partner.strip():
        raise _bad(
            where, "partner must be a partner_id", "partner doit être un identifiant de partenaire"
        )
    channels = raw["channels"]
    if not isinstance(channels, list) or not channels:
        raise _bad(
            where,
            f"channels must be a list among {', '.join(CHANNELS)}",
            f"channels doit être une liste parmi {', '.join(CHANNELS)}",
        )
    for ch in channels:
        if ch not in CHANNELS:
            raise _bad(
                where,
                f"unknown channel {ch!r}: expected one of {', '.join(CHANNELS)}",
                f"canal inconnu {ch!r} ; valeurs possibles : {', '.join(CHANNELS)}",
            )
    if len(set(channels)) != len(channels):
        raise _bad(
            where,
            "a channel is listed twice in channels",
            "un canal figure deux fois dans channels",
        )
    purpose = raw["purpose"]
    if not isinstance(purpose, str) or not purpose.strip():
        raise _bad(
            where,
            "purpose must describe the campaign (it is told to each person)",
            "purpose doit décrire la campagne (ce texte est communiqué à chaque personne)",
        )
    call_purpose = raw.get("call_purpose", "commercial")
    if call_purpose not in CALL_PURPOSES:
        raise _bad(
            where,
            f"unknown call_purpose {call_purpose!r}: expected one of {', '.join(CALL_PURPOSES)}",
            f"call_purpose inconnu {call_purpose!r} ; valeurs possibles : "
            f"{', '.join(CALL_PURPOSES)}",
        )
    offer = raw.get("offer", "general")
    if offer not in OFFERS:
        raise _bad(
            where,
            f"unknown offer {offer!r}: expected one of {', '.join(OFFERS)}",
            f"offre inconnue {offer!r} ; valeurs possibles : {', '.join(OFFERS)}",
        )
    start = _date(raw["campaign_start"], "campaign_start", where)
    end = _date(raw["campaign_end"], "campaign_end", where)
    if end < start:
        raise _bad(
            where,
            f"the campaign ends ({end}) before it starts ({start})",
            f"la campagne finit ({end}) avant de commencer ({start})",
        )
    if as_of is None:
        as_of = _date(raw["as_of"], "as_of", where) if "as_of" in raw else today()
    if as_of > end:
        raise _bad(
            where,
            f"as_of ({as_of}) is after the end of the campaign ({end})",
            f"as_of ({as_of}) est après la fin de la campagne ({end})",
        )
    limit = raw.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise _bad(
            where,
            f"limit must be a whole number of contacts, got {limit!r}",
            f"limit doit être un nombre entier de contacts, pas {limit!r}",
        )
    seeds = raw.get("seeds", 0)
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 0:
        raise _bad(
            where,
            f"seeds must be a whole number, got {seeds!r}",
            f"seeds doit être un nombre entier, pas {seeds!r}",
        )
    seg_raw = raw.get("segment", {})
    if not isinstance(seg_raw, dict):
        raise _bad(where, "segment must be a table", "segment doit être une table")
    unknown = sorted(set(seg_raw) - _SEGMENT_KEYS)
    if unknown:
        raise _bad(
            where,
            f"unknown segment key(s) {', '.join(unknown)}",
            f"clé(s) de segment inconnue(s) {', '.join(unknown)}",
        )
    prefixes = seg_raw.get("postal_code_prefix", [])
    if isinstance(prefixes, str):
        prefixes = [prefixes]
    if not isinstance(prefixes, list) or not all(
        isinstance(p, str) and p.isdigit() and 1 <= len(p) <= 5 for p in prefixes
    ):
        raise _bad(
            where,
            'segment.postal_code_prefix must be a list of digit prefixes such as "75"',
            'segment.postal_code_prefix doit être une liste de débuts de code postal tels que "75"',
        )
    audience = seg_raw.get("audience")
    if audience is not None and audience not in ("b2c", "b2b"):
        raise _bad(
            where, "segment.audience must be b2c or b2b", "segment.audience doit valoir b2c ou b2b"
        )
    return Order(
        partner=partner.strip(),
        channels=tuple(channels),
        purpose=purpose.strip(),
        campaign_start=start,
        campaign_end=end,
        as_of=as_of,
        call_purpose=call_purpose,
        offer=offer,
        limit=limit,
        seeds=seeds,
        segment=Segment(tuple(prefixes), audience),
        text=text,
    )


def with_offer(text: str, offer: str) -> str:
    """The order ``text`` with ``offer`` (chosen beside it, as in the back office's form)
    as its key ``offer``: refused when unknown, or when the text names another offer."""
    if not offer:
        return text
    if offer not in OFFERS:
        raise InputError(
            f"unknown offer {offer!r}: expected one of {', '.join(OFFERS)}",
            fr=f"offre inconnue {offer!r} ; valeurs possibles : {', '.join(OFFERS)}",
        )
    try:
        named = tomllib.loads(text).get("offer")
    except tomllib.TOMLDecodeError:
        return text  # parse_order says what is wrong with it
    if named is None:
        return f'offer = "{offer}"\n{text}'  # before any [table], so a top-level key
    if named != offer:
        raise InputError(
            f"the order's offer is {named!r} but {offer!r} was chosen",
            fr=f"la commande nomme l'offre {named!r}, mais {offer!r} est choisie",
        )
    return text


def backdated(order: Order) -> Notice | None:
    """A warning when ``order`` is decided as of a day before today: the rules ignore
    events dated after ``as_of`` (rules.md), so oppositions received since would not
    apply to a file delivered now. None for an order decided as of today or later."""
    now = today()
    if order.as_of >= now:
        return None
    return Notice(
        f"as_of {order.as_of.isoformat()} is before today ({now.isoformat()}): the decisions "
        "ignore the oppositions and other events dated after it (those covering delivered "
        "coordinates are forwarded to the partner with the delivery). A file delivered "
        "today should be decided as of today (leave as_of out).",
        f"as_of {order.as_of.isoformat()} précède aujourd'hui ({now.isoformat()}) : les "
        "décisions ignorent les oppositions et autres événements datés d'après (ceux qui "
        "portent sur des coordonnées livrées sont transmis au partenaire avec la "
        "livraison). Un fichier livré aujourd'hui se décide à la date du jour (omettez "
        "as_of).",
    )


def load_order(path: str | Path) -> Order:
    p = Path(path)
    try:
        if p.is_file() and p.stat().st_size > MAX_ORDER_BYTES:
            raise InputError(
                f"an order is a short TOML file; this one is over {MAX_ORDER_BYTES:,} bytes",
                where=str(p),
            )
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("order file not found", where=str(p)) from None
    except IsADirectoryError:
        raise InputError("this is a folder: name the order file", where=str(p)) from None
    except UnicodeDecodeError as exc:
        raw = p.read_bytes()
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(
            f"line {line}, column {column}: byte 0x{raw[exc.start]:02x} is not UTF-8; an "
            "order must be a UTF-8 TOML file",
            where=str(p),
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read the order file: {exc.strerror}", where=str(p)) from None
    return parse_order(text, where=str(p))
