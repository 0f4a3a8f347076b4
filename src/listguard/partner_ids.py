"""What a partner id may be: one pattern, checked wherever an id comes in (the partners
import and the back office form, the API's ``partner:<id>`` scopes, the commands).

A partner id names folders and files (deliveries, file drops) and appears in scopes
such as ``partner:<id>``: letters, digits, ``_``, ``.`` and ``-``, starting with a
letter or digit, at most 64 characters, never ``..``.
"""

from __future__ import annotations

import re

from listguard.errors import InputError

PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_ID = re.compile(PATTERN)
RULE = (
    "a partner id is 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or "
    "digit, without '..'"
)


# what an owner whose messages a partner receives (``listguard partner add-source``) may
# be named: it names that owner's suppression list and the messages' records
SOURCE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def is_partner_id(value: str) -> bool:
    return bool(_ID.fullmatch(value)) and ".." not in value


def check_partner_id(value: str) -> str:
    """``value`` if it is a partner id, else ``InputError``."""
    if not is_partner_id(value):
        raise InputError(f"{value!r} is not a partner id: {RULE}")
    return value


__all__ = ["PATTERN", "RULE", "SOURCE_NAME", "check_partner_id", "is_partner_id"]
