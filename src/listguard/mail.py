"""Sending one email through the owner's SMTP server (``[notify]``): the partners'
digests of oppositions, and the mails to persons (the links they ask for, the answers
to their requests), made by ``to_person``."""

from __future__ import annotations

import os
import smtplib
from email.message import EmailMessage

from listguard.config import NotifySettings, Settings


def send_mail(settings: NotifySettings, mail: EmailMessage) -> None:
    """Hand ``mail`` to the SMTP server of ``settings`` (STARTTLS and login as set);
    raises ``smtplib.SMTPException`` or ``OSError`` when it cannot be reached or refuses."""
    password = os.environ.get(settings.smtp_password_env, "")
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, password)
        smtp.send_message(mail)


def to_person(settings: Settings, to: str, subject: str, body: str) -> EmailMessage:
    """A mail from the owner (``[notify] sender``) to a person, its subject naming the
    owner: ``subject (owner)``."""
    mail = EmailMessage()
    mail["From"] = settings.notify.sender
    mail["To"] = to
    mail["Subject"] = f"{subject} ({settings.owner.name})"
    mail.set_content(body)
    return mail


__all__ = ["send_mail", "to_person"]
