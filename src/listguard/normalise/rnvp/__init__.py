"""Postal addresses restructured to AFNOR NF Z10-011 ("RNVP": restructuration,
normalisation, validation postale).

Any input: the address columns of the contacts format in any state (a complement in
line 4, the street in line 2, "12, rue ..." split by a comma, the postal code with
the city), or one free-text ``address`` column, even on one line with nothing before
the postal code ("145 impasse de la Fontaine 29440 Trézilidé"). Out come the six
standard lines:

1. the recipient (civility, first name, last name; a company first when there is one);
2. what locates the recipient inside the building (flat, floor, staircase, "chez");
3. what locates the building (building, entrance, residence);
4. number, extension and street;
5. locality (lieu-dit, former commune) or distribution service (BP, CS, TSA);
6. postal code and "libellé d'acheminement" (with CEDEX and its number if any).

At most 38 characters a line; lines 4 to 6 in capitals, without accents or
punctuation; a street label is abbreviated only when it does not fit, with the
standard's abbreviations, step by step (street type first, then titles, then
general words...). The postal code and commune are checked against La Poste's
official postal code base and corrected where the evidence is clear.

Each address gets a status: ``valid`` (recognised; only its form changed),
``corrected`` (a value changed: postal code, city, abbreviation; ``changes`` says
which), ``doubtful`` (deliverable as written, but something could not be confirmed:
``reason`` says what) or ``invalid`` (empty, no street nor locality nor PO box, or a
postal code and city that match nothing: ``reason`` says which). For the rules,
``valid``, ``corrected`` and ``doubtful`` are usable; ``invalid`` is an
``invalid_coordinate``.

The work is set-based (Polars expressions over a batch); only the rare addresses
whose city does not match their postal code go through a fuzzy search, once per
distinct pair.

The package, one step a module: ``formats`` (the columns, the line length, the
patterns of each line), ``oneline`` (a postal code and town found inside a line, a
PO box set apart), ``lines`` (where each part of an address goes), ``streets``
(street types written out, labels abbreviated to fit), ``places`` (the postal code
and city against La Poste's base) and ``restructure`` (the batch, step by step).
"""

from __future__ import annotations

from listguard.normalise.rnvp.formats import INPUT, LINE_MAX, OUTPUT, STATUSES
from listguard.normalise.rnvp.restructure import restructure
from listguard.normalise.rnvp.streets import shorten, street_type_written_out

__all__ = [
    "INPUT",
    "LINE_MAX",
    "OUTPUT",
    "STATUSES",
    "restructure",
    "shorten",
    "street_type_written_out",
]
