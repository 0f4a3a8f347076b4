"""Rule packs: the regimes and parameters in force from a date, as data.

An order is judged by every pack in force on its delivery date ``D`` or on any
day of its campaign window; where several apply, each rule takes its
strictest form (opt-in beats opt-out, required screening beats optional, a
maximum consent age applies if any pack has one).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from listguard.config import RuleSettings
from listguard.errors import InputError

OPT_IN = "opt-in"
OPT_OUT = "opt-out"
EXEMPT_CALL_PURPOSES = ("press", "public_service", "polling", "non_profit")
CALL_PURPOSES = ("commercial", *EXEMPT_CALL_PURPOSES)


@dataclass(frozen=True)
class Regime:
    """One row of a pack's regime table; ``audience``/``call_purpose`` '*' match anything."""

    channel: str
    audience: str
    call_purpose: str
    regime: str


@dataclass(frozen=True)
class Pack:
    id: str
    start: dt.date
    end: dt.date | None
    regimes: tuple[Regime, ...]
    bloctel_required: bool | None  # None: from the setting ``bloctel_screening``
    consent_max_age_channels: tuple[str, ...]  # channels with a maximum consent age
    sources: tuple[str, ...]

    def in_force(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    def regime(self, channel: str, audience: str, call_purpose: str) -> str:
        for r in self.regimes:  # first match wins: specific rows come first
            if (
                r.channel == channel
                and r.audience in ("*", audience)
                and r.call_purpose in ("*", call_purpose)
            ):
                return r.regime
        raise KeyError((self.id, channel, audience, call_purpose))


PACKS: tuple[Pack, ...] = (
    Pack(
        id="fr-2016",
        start=dt.date(2016, 6, 1),
        end=dt.date(2026, 8, 10),
        regimes=(
            Regime("postal", "*", "*", OPT_OUT),
            Regime("phone", "*", "*", OPT_OUT),
            Regime("automated_call", "*", "*", OPT_IN),
            Regime("sms", "*", "*", OPT_IN),
            Regime("email", "b2b", "*", OPT_OUT),
            Regime("email", "*", "*", OPT_IN),
        ),
        bloctel_required=True,
        consent_max_age_channels=(),
        sources=(
            "CNIL, prospection B2C et transmission à des partenaires (28/12/2018) [S]",
            "CPCE art. L34-5 [S]",
            "Code de la consommation art. L223-1 et s. (Bloctel) [S]",
        ),
    ),
    Pack(
        id="fr-2026",
        start=dt.date(2026, 8, 11),
        end=None,
        regimes=(
            Regime("postal", "*", "*", OPT_OUT),
            Regime("phone", "b2b", "*", OPT_OUT),
            Regime("phone", "*", "press", OPT_OUT),
            Regime("phone", "*", "*", OPT_IN),
            Regime("automated_call", "*", "*", OPT_IN),
            Regime("sms", "*", "*", OPT_IN),
            Regime("email", "b2b", "*", OPT_OUT),
            Regime("email", "*", "*", OPT_IN),
        ),
        bloctel_required=None,
        consent_max_age_channels=("phone",),
        sources=(
            "CNIL, prospection B2C et transmission à des partenaires (28/12/2018) [S]",
            "CPCE art. L34-5 [S]",
            "Loi n° 2025-594 du 30 juin 2025, art. 13 "
            "(consentement au démarchage téléphonique) [S]",
            "Décret n° 2026-662 du 23 juillet 2026 "
            "(durée et preuve du consentement) [3P, unverified]",
            "Fin de la liste Bloctel après le 10/08/2026 (criblage facultatif) [3P, unverified]",
        ),
    ),
)


@dataclass(frozen=True)
class Applied:
    """The strictest combination of the packs that apply to one order."""

    packs: tuple[Pack, ...]
    settings: RuleSettings
    call_purpose: str

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.packs)

    def regime(self, channel: str, audience: str) -> str:
        regimes = {p.regime(channel, audience, self.call_purpose) for p in self.packs}
        return OPT_IN if OPT_IN in regimes else OPT_OUT

    @property
    def bloctel_required(self) -> bool:
        return any(
            p.bloctel_required
            if p.bloctel_required is not None
            else self.settings.bloctel_screening == "required"
            for p in self.packs
        )

    def consent_max_age_days(self, channel: str) -> int | None:
        days = self.settings.phone_consent_max_age_days
        if days and any(channel in p.consent_max_age_channels for p in self.packs):
            return days
        return None

    @property
    def bloctel_exempt_purpose(self) -> bool:
        return self.call_purpose in EXEMPT_CALL_PURPOSES


def applicable_packs(
    as_of: dt.date, start: dt.date, end: dt.date, settings: RuleSettings, call_purpose: str
) -> Applied:
    """The packs in force on ``as_of`` or on any day of ``[start, end]``."""
    chosen = tuple(
        p
        for p in PACKS
        if p.in_force(as_of) or (p.start <= end and (p.end is None or p.end >= start))
    )
    if not chosen:
        raise InputError(
            f"no rule pack is in force on {as_of} or during {start}..{end}: "
            f"the earliest starts on {PACKS[0].start}",
            fr=f"aucun jeu de règles n'est en vigueur le {as_of} ni du {start} au {end} : "
            f"le premier commence le {PACKS[0].start}",
        )
    return Applied(chosen, settings, call_purpose)
