"""What a transport is: the one interface through which the worker sends a partner its
messages, whatever the way (webhook, email digest, file drop).

The worker hands a transport the messages due for one partner, oldest first, and
learns from it which were sent and which one failed: ``deliver`` calls ``sent`` with
the messages delivered as it goes (the worker records them at once, so a worker that
dies midway sends again only what it had not recorded), stops at the first failure
and returns it; the messages after that one were not tried and wait for its retry, so
a partner receives its messages in order. A transport that groups messages (the email
digest sends them all in one mail) calls ``sent`` once for all of them.

``interval`` paces a transport: a partner that had a sending less than ``interval``
seconds ago waits for the next one (the email digest: at most one mail per interval).

The webhook and the file drop send each message on its own: they are written as a
``MessageSender`` (one ``send`` per message) and delivered through ``OneByOne``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Endpoint:
    partner_id: str
    name: str
    notify_url: str | None
    notify_email: str | None
    secret: str
    hashed: bool = False  # file drops carry keyed hashes of the coordinates, not them


@dataclass(frozen=True)
class Message:
    id: int
    key: str  # the idempotency key: the same for every attempt
    partner_id: str
    body: bytes  # JSON


class TransportError(Exception):
    """A message could not be delivered this time (it will be retried)."""


@dataclass(frozen=True)
class Failure:
    """The message a transport could not deliver this time, and why (kept for the owner
    as the message's last error)."""

    message_id: int
    error: str


Sent = Callable[[Sequence[Message]], None]
"""Told the messages a transport has just delivered."""


class Transport(Protocol):
    """A way to reach partners: delivers one partner's due messages, in order."""

    name: str  # recorded with each message sent (``outbox.transport``)
    interval: int  # seconds at least between two sendings to one partner (0: no pacing)

    def deliver(
        self, endpoint: Endpoint, messages: Sequence[Message], now: int, sent: Sent
    ) -> Failure | None:
        """Deliver ``messages`` to ``endpoint``, telling ``sent`` of those delivered as
        they are; the first failure is returned, and the messages after it not tried."""
        ...


class MessageSender(Protocol):
    """A transport that sends each message on its own (see ``OneByOne``)."""

    name: str

    def send(self, endpoint: Endpoint, message: Message, now: int) -> None:
        """Send ``message``; ``TransportError`` if it could not be, this time."""
        ...


class OneByOne:
    """The ``Transport`` of a ``MessageSender``: each message sent in order, told to
    ``sent`` as soon as it is, until one fails."""

    interval = 0

    def __init__(self, sender: MessageSender) -> None:
        self.sender = sender
        self.name = sender.name

    def deliver(
        self, endpoint: Endpoint, messages: Sequence[Message], now: int, sent: Sent
    ) -> Failure | None:
        for message in messages:
            try:
                self.sender.send(endpoint, message, now)
            except TransportError as exc:
                return Failure(message.id, str(exc))
            sent([message])
        return None


__all__ = [
    "Endpoint",
    "Failure",
    "Message",
    "MessageSender",
    "OneByOne",
    "Sent",
    "Transport",
    "TransportError",
]
