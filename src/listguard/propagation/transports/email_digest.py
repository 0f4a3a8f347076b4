"""The email digest: one mail per partner with every message due for it."""

from __future__ import annotations

import json
import smtplib
from collections.abc import Sequence
from email.message import EmailMessage

from listguard.config import Settings
from listguard.mail import send_mail
from listguard.propagation.transports.base import (
    Endpoint,
    Failure,
    Message,
    Sent,
    TransportError,
)
from listguard.propagation.transports.tabular import messages_csv


class EmailDigest:
    """One email per partner with every message due for it (text and a CSV attachment),
    at most one every ``interval`` seconds. The messages of a mail are sent, or fail,
    together: a failure is the first one's, the others wait for its retry."""

    name = "email"

    def __init__(self, settings: Settings) -> None:
        self.notify = settings.notify
        self.owner = settings.owner.name
        self.interval = self.notify.digest_minutes * 60

    def deliver(
        self, endpoint: Endpoint, messages: Sequence[Message], now: int, sent: Sent
    ) -> Failure | None:
        try:
            self.send_digest(endpoint, messages)
        except TransportError as exc:
            return Failure(messages[0].id, str(exc))
        sent(messages)
        return None

    def send_digest(self, endpoint: Endpoint, messages: Sequence[Message]) -> None:
        """Mail ``messages`` to the partner's address; ``TransportError`` if the SMTP
        server cannot be reached or refuses the mail."""
        assert endpoint.notify_email is not None
        lines = messages_csv(messages)
        mail = EmailMessage()
        mail["From"] = self.notify.sender
        mail["To"] = endpoint.notify_email
        mail["Subject"] = f"Oppositions à appliquer ({self.owner}) : {len(messages)} message(s)"
        mail.set_content(
            f"Bonjour,\n\n{self.owner} vous transmet {len(messages)} opposition(s) ou "
            "demande(s) d'effacement concernant des contacts que vous avez reçus de sa part "
            "(RGPD, art. 19 et 21). Merci de ne plus utiliser les coordonnées ci-dessous "
            "et de confirmer leur prise en compte.\n\n"
            "Chaque ligne du fichier joint donne la référence du contact dans votre livraison "
            "(contact_ref), le canal et la coordonnée. Le lien de chaque message confirme "
            "sa prise en compte.\n\n"
            + "\n".join(f"- {m.key} {json.loads(m.body).get('ack_url', '')}" for m in messages)
            + "\n"
        )
        mail.add_attachment(
            ("\ufeff" + lines).encode("utf-8"),
            maintype="text",
            subtype="csv",
            filename=f"oppositions-{endpoint.partner_id}.csv",
        )
        try:
            send_mail(self.notify, mail)
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"SMTP {self.notify.smtp_host}: {exc}") from None


__all__ = ["EmailDigest"]
