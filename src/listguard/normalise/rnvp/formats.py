"""The address formats of the restructuring: the columns read and written, the length
of a line, the statuses, and the patterns that tell which line a part of an address
belongs on (a flat, a building, a PO box or lieu-dit, a number, a postal code and
city, CEDEX)."""

from __future__ import annotations

LINE_MAX = 38
STATUSES = ("valid", "corrected", "doubtful", "invalid")
OUTPUT = (
    "line1",
    "line2",
    "line3",
    "line4",
    "line5",
    "line6",
    "postal_code",
    "city",
    "insee",
    "status",
    "changes",
    "reason",
)
INPUT = (
    "civility",
    "first_name",
    "last_name",
    "company",
    "address_line2",
    "address_line3",
    "address_line4",
    "address_line5",
    "postal_code",
    "city",
    "country",
    "address",  # one free-text field, in place of (or besides) the lines
)

NOT_LATIN = r"[^\p{Latin}\p{Common}\p{Inherited}]"
EXT = r"(?:BIS|TER|QUATER|QUINQUIES|[A-H])"
LINE2 = (
    r"^(?:APPARTEMENT|APPART|APPT|APT|APP|ETAGE|ETG|ESCALIER|ESC|CHEZ|C O|PORTE|CHAMBRE"
    r"|LOGEMENT|LOGT|BOITE AUX LETTRES|BAL|APT N|\d+\s*(?:ER|E|EME)\s+ETAGE|N\s*\d+\s+APP)\b"
)
LINE3 = (
    r"^(?:BATIMENT|BATIMENTS|BAT|IMMEUBLE|IMM|RESIDENCE|RES|ENTREE|HALL|BLOC|PAVILLON"
    r"|TOUR [A-Z0-9]\b|LES JARDINS D|LE CLOS D)\b"
)
LINE5 = r"^(?:BP|B P|BOITE POSTALE|CS|TSA|CP|LIEU DIT|LIEUDIT|LD|HAMEAU D[EU]S?)\s*\d*\b"
NUMBER_ONLY = rf"^\d{{1,5}}\s*{EXT}?$"
POSTAL_CITY = r"^(\d{5}|\d{2} \d{3})\s+(\D.*)$"
CEDEX = r"\s*\bCEDEX\b\s*(\d{0,2})\s*$"


__all__ = [
    "CEDEX",
    "EXT",
    "INPUT",
    "LINE2",
    "LINE3",
    "LINE5",
    "LINE_MAX",
    "NOT_LATIN",
    "NUMBER_ONLY",
    "OUTPUT",
    "POSTAL_CITY",
    "STATUSES",
]
