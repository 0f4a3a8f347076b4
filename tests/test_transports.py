"""The three ways to reach a partner (webhook, email digest, file drop) answer the worker
through one interface: a partner's messages in, in order; those delivered told as they
go; the first failure out, the messages after it not tried."""

from __future__ import annotations

import email
import json
import re
import socket
from collections.abc import Iterator, Sequence
from email import policy
from pathlib import Path
from typing import Any

import pytest

from listguard.config import NotifySettings, Owner, Settings
from listguard.propagation.signing import SIGNATURE_HEADER, verify_signature
from listguard.propagation.transports.base import Endpoint, Message, Transport
from listguard.propagation.transports.email_digest import EmailDigest
from listguard.propagation.transports.file_drop import FileDropTransport
from listguard.propagation.transports.routing import Transports
from listguard.propagation.transports.webhook import WebhookTransport
from tests.test_propagation import Partner
from tests.test_propagation import endpoint as endpoint  # the partner's server, a fixture
from tests.test_propagation import smtp as smtp  # the partner's mail server, a fixture

NOW = 1_790_000_000


def _batch() -> list[Message]:
    """Two messages for partner P1, oldest first."""
    out = []
    for i in (1, 2):
        payload = {
            "type": "opposition",
            "message_id": f"lg-{i}-test",
            "occurred_at": "2026-11-30T10:00:00Z",
            "channel": "email",
            "contacts": [
                {"contact_ref": f"D1-{i}", "channel": "email", "coordinate": f"c{i}@example.com"}
            ],
        }
        out.append(Message(i, f"lg-{i}-test", "P1", json.dumps(payload).encode()))
    return out


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def reached(
    request: pytest.FixtureRequest,
    endpoint: type[Partner],
    smtp: tuple[int, list[Any]],
    tmp_path: Path,
) -> Iterator[tuple[str, bool, Transports, Endpoint]]:
    """One way to reach P1 (``request.param``: the way, and whether the partner's side
    works), as the worker finds it: the transports and P1's endpoint."""
    way, working = request.param
    url: str = endpoint.url  # type: ignore[attr-defined]
    port, _ = smtp
    webhook = WebhookTransport(timeout=5)
    if way == "webhook":
        endpoint.answers = [] if working else [503]
        transports = Transports(webhook=webhook)
        target = Endpoint("P1", "Partner 1", url, None, "secret")
    elif way == "email":
        settings = NotifySettings(
            smtp_host="127.0.0.1",
            smtp_port=port if working else _closed_port(),
            sender="oppositions@owner.example",
        )
        owner = Owner(name="Owner")
        transports = Transports(
            webhook=webhook, email=EmailDigest(Settings(owner=owner, notify=settings))
        )
        target = Endpoint("P1", "Partner 1", None, "dpo@partner.example", "secret")
    else:
        folder = tmp_path / "drop"
        if not working:
            folder.write_text("a file where the folder should be", encoding="utf-8")
        transports = Transports(webhook=webhook, file_drop=FileDropTransport(folder))
        target = Endpoint("P1", "Partner 1", None, None, "secret")
    yield way, working, transports, target
    webhook.close()


WAYS = [(way, working) for way in ("webhook", "email", "file") for working in (True, False)]


@pytest.mark.parametrize("reached", WAYS, indirect=True, ids=lambda w: f"{w[0]}-{w[1]}")
def test_each_way_delivers_through_the_one_interface(
    reached: tuple[str, bool, Transports, Endpoint],
    endpoint: type[Partner],
    smtp: tuple[int, list[Any]],
    tmp_path: Path,
) -> None:
    way, working, transports, target = reached
    transport: Transport | None = transports.for_endpoint(target)
    assert transport is not None
    told: list[Sequence[Message]] = []
    failure = transport.deliver(target, _batch(), NOW, told.append)
    _, mails = smtp
    files = sorted(p.name for p in (tmp_path / "drop").rglob("*.csv")) if working else []
    assert transport.name == {"webhook": "webhook", "email": "email", "file": "file"}[way]
    assert transport.interval == (3600 if way == "email" else 0)
    if not working:  # the first message fails: the second is not tried
        assert failure is not None and failure.message_id == 1
        assert told == []
        why = {"webhook": r"HTTP 503$", "email": r"SMTP 127\.0\.0\.1: ", "file": "cannot write to "}
        assert re.match(why[way], failure.error)
        assert len(endpoint.received) == (1 if way == "webhook" else 0)
        assert mails == [] and files == []
        return
    assert failure is None
    if way == "email":  # one mail for both, told at once
        assert [[m.id for m in batch] for batch in told] == [[1, 2]]
        assert len(mails) == 1 and mails[0].rcpt_tos == ["dpo@partner.example"]
        mail = email.message_from_bytes(mails[0].content, policy=policy.default)
        attachment = next(mail.iter_attachments()).get_content()
        assert "c1@example.com" in attachment and "c2@example.com" in attachment
    else:  # one at a time, each told as soon as it is sent
        assert [[m.id for m in batch] for batch in told] == [[1], [2]]
    if way == "webhook":
        keys = [h["Idempotency-Key"] for h, _ in endpoint.received]
        assert keys == ["lg-1-test", "lg-2-test"]
        for headers, body in endpoint.received:
            assert verify_signature("secret", headers[SIGNATURE_HEADER], body, NOW)
    else:
        assert endpoint.received == []
    assert files == (["lg-1-test.csv", "lg-2-test.csv"] if way == "file" else [])
