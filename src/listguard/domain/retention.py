"""How long deliveries are looked at: the retention period of the owner's settings.

An opposition or an erasure is forwarded to the partners whose deliveries of the
period hold the person; every route (a file of events, the form, the API, the
commands) takes the period from the settings through ``Retention.of``, so the same
opposition reaches the same partners whichever way it came.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from listguard.config import RuleSettings, Settings
from listguard.timeutil import day_start, years_before


@dataclass(frozen=True)
class Retention:
    """The retention period, in whole years (the settings keep it within the legal
    three)."""

    years: int = RuleSettings.retention_years

    @classmethod
    def of(cls, settings: Settings) -> Retention:
        """The period the owner's settings give."""
        return cls(settings.rules.retention_years)

    def since(self, now: int) -> int:
        """The first second of the period ending at ``now`` (Unix seconds): deliveries
        made from then on count."""
        return day_start(years_before(dt.datetime.fromtimestamp(now, dt.UTC).date(), self.years))


# the default settings' period, for a caller given no settings
DEFAULT_RETENTION = Retention()

__all__ = ["DEFAULT_RETENTION", "Retention"]
