"""Which transport serves which partner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from listguard.config import Settings
from listguard.propagation.transports.base import Endpoint, MessageSender, OneByOne, Transport
from listguard.propagation.transports.email_digest import EmailDigest
from listguard.propagation.transports.file_drop import FileDropTransport


@dataclass
class Transports:
    """Which transport serves a partner: a webhook where it gave a URL, else an email
    digest where it gave an address (and SMTP is configured), else the file drop where
    one is configured. Partners none of them reaches wait (listed by ``status``)."""

    webhook: MessageSender | None = None
    file_drop: MessageSender | None = None
    email: Transport | None = None
    ack_base: str = ""  # the public address of the owner's site: messages carry ack links

    @classmethod
    def from_settings(
        cls, settings: Settings, webhook: MessageSender | None, drop_folder: Path | None = None
    ) -> Transports:
        """The transports the settings configure: the given webhook, an email digest
        where SMTP is set, the file drop to ``drop_folder``; ack links on the public URL."""
        return cls(
            webhook=webhook,
            file_drop=FileDropTransport(drop_folder) if drop_folder else None,
            email=EmailDigest(settings) if settings.notify.smtp_host else None,
            ack_base=settings.web.public_url,
        )

    def reaches(self, partner: str = "p") -> str:
        """SQL on ``partners`` (as ``partner``): the partners some transport reaches."""
        if self.file_drop is not None:
            return "1 = 1"
        ways = []
        if self.webhook is not None:
            ways.append(f"coalesce({partner}.notify_url, '') <> ''")
        if self.email is not None:
            ways.append(f"coalesce({partner}.notify_email, '') <> ''")
        return " OR ".join(ways) or "1 = 0"

    def for_endpoint(self, endpoint: Endpoint) -> Transport | None:
        """The transport that serves ``endpoint``; None if none reaches it."""
        if endpoint.notify_url and self.webhook is not None:
            return OneByOne(self.webhook)
        if endpoint.notify_email and self.email is not None:
            return self.email
        return OneByOne(self.file_drop) if self.file_drop is not None else None


__all__ = ["Transports"]
