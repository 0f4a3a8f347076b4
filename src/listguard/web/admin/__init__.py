"""The back office of the owner's team: sign-in, dashboard, partners, rentals (preview
and delivery), deliveries, oppositions and their propagation, the audit log, accounts
and API keys; the legend of the exclusion reasons.

Sessions are cookies (``HttpOnly``, ``SameSite=Strict``, ``Secure`` behind HTTPS);
every form carries the session's CSRF token. Operators work; admins also manage
partners' keys and accounts.
"""

from __future__ import annotations

from listguard.web.admin import (
    access,
    audit_log,
    contacts,
    dashboard,
    deliveries,
    oppositions,
    partners,
    reasons,
    rentals,
    rights_requests,
    signin,
)
from listguard.web.admin.router import router

# the modules whose pages are on the router (no two of their paths overlap)
PAGES = (
    signin,
    dashboard,
    oppositions,
    rentals,
    audit_log,
    partners,
    access,
    deliveries,
    contacts,
    reasons,
    rights_requests,
)

__all__ = ["PAGES", "router"]
