"""One reading of a scope and of a via, for every route (files, forms, API, commands).

A scope says who an event concerns: ``own`` (the owner's own use), ``partners``
(every partner), ``all`` (both), or ``partner:<id>`` (one partner). A via says how
the event reached the owner: one of ``VIAS``, or ``partner:<id>`` when a partner
forwarded it. A partner id follows ``partner_ids`` (never ``..``).

``parse_scope`` and ``parse_via`` read one value; ``scope_ok`` and ``via_ok`` are the
same rules as Polars expressions, for a whole batch of an events file; ``SCOPE_PATTERN``
is the rule as a regular expression, for the API's request models (which refuse
``..`` afterwards, through ``parse_scope``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

from listguard.domain.vocabulary import SCOPE_KINDS, VIAS, ScopeKind, Via
from listguard.errors import InputError
from listguard.partner_ids import PATTERN as PARTNER_ID
from listguard.partner_ids import is_partner_id

PARTNER_PREFIX = "partner:"
SCOPE_PATTERN = rf"^({'|'.join(SCOPE_KINDS)}|{PARTNER_PREFIX}{PARTNER_ID})$"
SCOPE_RULE = "own, partners, all or partner:<id>"
VIA_RULE = f"one of {', '.join(VIAS)} or partner:<id>"


@dataclass(frozen=True)
class Scope:
    """A scope read: its kind, and the partner of a ``partner:<id>`` scope."""

    kind: ScopeKind | Literal["partner"]
    partner_id: str | None = None

    def __str__(self) -> str:
        return f"{PARTNER_PREFIX}{self.partner_id}" if self.kind == "partner" else self.kind


@dataclass(frozen=True)
class ViaOf:
    """A via read: how the event came, and the partner that forwarded it, if one did."""

    via: Via | Literal["partner"]
    partner_id: str | None = None

    def __str__(self) -> str:
        return f"{PARTNER_PREFIX}{self.partner_id}" if self.via == "partner" else self.via


def _partner_of(value: str) -> str | None:
    """The partner id of ``partner:<id>``, or None when ``value`` is not one."""
    if value.startswith(PARTNER_PREFIX) and is_partner_id(value[len(PARTNER_PREFIX) :]):
        return value[len(PARTNER_PREFIX) :]
    return None


def parse_scope(value: str) -> Scope:
    """The scope ``value`` names, or ``InputError`` saying what a scope may be."""
    for kind in SCOPE_KINDS:
        if value == kind:
            return Scope(kind)
    partner = _partner_of(value)
    if partner is None:
        raise InputError(f"unknown scope {value!r}: expected {SCOPE_RULE}")
    return Scope("partner", partner)


def parse_via(value: str) -> ViaOf:
    """The via ``value`` names, or ``InputError`` saying what a via may be."""
    for via in VIAS:
        if value == via:
            return ViaOf(via)
    partner = _partner_of(value)
    if partner is None:
        raise InputError(f"unknown via {value!r}: expected {VIA_RULE}")
    return ViaOf("partner", partner)


def partner_of_scope(scope: str) -> str | None:
    """The partner a stored scope names (``partner:<id>``), None for the other scopes."""
    return scope[len(PARTNER_PREFIX) :] if scope.startswith(PARTNER_PREFIX) else None


def _names_a_partner(col: pl.Expr) -> pl.Expr:
    return col.str.contains(rf"^{PARTNER_PREFIX}{PARTNER_ID}$") & ~col.str.contains(
        "..", literal=True
    )


def scope_ok(col: pl.Expr) -> pl.Expr:
    """True where ``col`` is a scope ``parse_scope`` accepts (a whole batch at once)."""
    return col.is_in(list(SCOPE_KINDS)) | _names_a_partner(col)


def via_ok(col: pl.Expr) -> pl.Expr:
    """True where ``col`` is a via ``parse_via`` accepts (a whole batch at once)."""
    return col.is_in(list(VIAS)) | _names_a_partner(col)


__all__ = [
    "PARTNER_PREFIX",
    "SCOPE_PATTERN",
    "SCOPE_RULE",
    "VIA_RULE",
    "Scope",
    "ViaOf",
    "parse_scope",
    "parse_via",
    "partner_of_scope",
    "scope_ok",
    "via_ok",
]
