"""The API: the owner's systems record oppositions (forms, SMS STOP) and collections,
and explain, preview, deliver and read back rentals (``owner``);
partners fetch their deliveries and the oppositions that concern them, acknowledge
them and report those they receive; the partner side receives an owner's messages
and asks its call rules.

Every route takes an API key (``Authorization: Bearer lg_...``) with the scope it
needs; a partner's key sees that partner's data only, and anything else answers 404,
as if it did not exist.
"""

from __future__ import annotations

from fastapi import APIRouter

from listguard.web.api import (
    calls,
    collections,
    inbound,
    oppositions,
    owner,
    partner,
    rights_requests,
)

router = APIRouter()
for _part in (oppositions, partner, inbound, collections, calls, owner, rights_requests):
    router.include_router(_part.router)

__all__ = ["router"]
