"""Reason codes, in the order of ``shared/spec/rules.md``, with the rule and its legal source."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    code: str
    rule: str
    source: str


REASONS: tuple[Reason, ...] = (
    Reason(
        "missing_coordinate",
        "the contact has no coordinate for this channel",
        "RGPD art. 5(1)(d) (exactitude) [S]",
    ),
    Reason(
        "invalid_coordinate",
        "the coordinate is present but invalid (unparseable or impossible number, bad email "
        "syntax, incomplete address or postal code that does not exist)",
        "RGPD art. 5(1)(d) (exactitude); NF Z10-011; plan de numérotation ARCEP 2018-0881 [S]",
    ),
    Reason(
        "wrong_line_type",
        "an SMS can only be sent to a mobile line",
        "plan de numérotation ARCEP 2018-0881 [S]",
    ),
    Reason(
        "banned_offer",
        "the law bans canvassing consumers for this offer on this channel, whatever they "
        "chose, on a day of the campaign window",
        "Code de la consommation art. L223-1 (loi n° 2020-901) et L223-8 (loi n° 2025-594) [S]",
    ),
    Reason(
        "retention_expired",
        "the last activity of the person is older than the retention period before D",
        "CNIL, référentiel « gestion commerciale » (3 ans) [S]/[3P]",
    ),
    Reason(
        "no_information_proof",
        "opt-out channel, and no proof that the person was informed of the transfer to partners",
        "CNIL, transmission à des partenaires (28/12/2018); RGPD art. 13 et 21 [S]",
    ),
    Reason(
        "objected_at_collection",
        "opt-out channel, and the person objected to the transfer to partners at collection",
        "RGPD art. 21(2); CNIL, transmission à des partenaires (28/12/2018) [S]",
    ),
    Reason(
        "no_consent",
        "opt-in channel, and the person did not consent to the transfer to partners",
        "CPCE art. L34-5; loi n° 2025-594 art. 13 (téléphone, depuis le 11/08/2026) [S]",
    ),
    Reason(
        "consent_expired",
        "the consent is older than its maximum age on a day of the campaign window",
        "décret n° 2026-662 (durée du consentement téléphonique) [3P, unverified]",
    ),
    Reason(
        "partner_not_disclosed",
        "the partner (opt-in) or its category (opt-out) was not shown to the person",
        "CNIL, transmission à des partenaires (28/12/2018); RGPD art. 13(1)(e) [S]",
    ),
    Reason(
        "opposed",
        "the person opposed (or asked for erasure) after collection, for this channel and partner",
        "RGPD art. 17, 19 et 21; CPCE art. L34-5 [S]",
    ),
    Reason(
        "suppressed",
        "the coordinate is on an active suppression list",
        "RGPD art. 5(1)(d) et 21 [S]",
    ),
    Reason(
        "bloctel_unscreened",
        "Bloctel screening is required and the number has no result within the validity period",
        "Code de la consommation art. L223-1 et s. [S]; "
        "liste close après le 10/08/2026 [3P, unverified]",
    ),
    Reason(
        "bloctel_listed",
        "the number is registered on Bloctel and no exemption applies",
        "Code de la consommation art. L223-1 et L223-5 [S]",
    ),
    Reason(
        "duplicate",
        "the same coordinate is already delivered in this order for another contact",
        "RGPD art. 5(1)(c) (minimisation) [S]",
    ),
    Reason(
        "over_limit",
        "eligible, but the order's limit was reached",
        "bon de commande",
    ),
)
CODES: tuple[str, ...] = tuple(r.code for r in REASONS)
BY_CODE = {r.code: r for r in REASONS}


def split_reasons(text: str) -> list[str]:
    return [c for c in text.split("|") if c]
