"""What every request and answer passes through, outside everything else: the client's
address behind a trusted reverse proxy, and the headers of every answer (server errors
included).

Both are plain ASGI layers wrapped around the whole application (Starlette's own
``ServerErrorMiddleware`` included, which answers a 500 outside the user middleware):
each costs a few dictionary look-ups per request, not a task.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    ),
]
HSTS = (b"strict-transport-security", b"max-age=31536000")
NO_STORE = (b"cache-control", b"no-store")
# files that hold no personal data and never change within a version: a cache may keep them
CACHEABLE = ("/static/", "/api/docs/assets/")


def networks(addresses: Iterable[str]) -> tuple[Network, ...]:
    """The networks of ``addresses`` (an address, or a network such as ``10.0.0.0/24``);
    raises ValueError naming the first that is neither."""
    found = []
    for address in addresses:
        try:
            found.append(ipaddress.ip_network(address.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{address!r} is not an IP address or network") from None
    return tuple(found)


def _within(host: str, trusted: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket's IPv4 peer: ::ffff:127.0.0.1
    return any(address in network for network in trusted)


def forwarded_client(peer: str, forwarded_for: str, trusted: tuple[Network, ...]) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy; then the
    last address of ``X-Forwarded-For`` that is not a trusted proxy (the ones before it
    were written by the client, who may write anything)."""
    if not trusted or not _within(peer, trusted):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a proxy we trust would not write this: keep what we know
        if not _within(hop, trusted):
            return hop
    return peer


class Forwarded:
    """Behind a trusted reverse proxy (``[web] trusted_proxies``), the client's address
    and scheme are the ones it forwards (``X-Forwarded-For``, ``X-Forwarded-Proto``);
    from any other peer these headers are ignored, as anybody may send them."""

    def __init__(self, app: Any, trusted: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client and self.trusted:
            peer = str(client[0])
            if _within(peer, self.trusted):
                headers = dict(scope.get("headers", []))
                forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
                proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").strip().lower()
                scope = dict(scope)
                scope["client"] = (forwarded_client(peer, forwarded, self.trusted), 0)
                if proto in ("http", "https") and scope["type"] == "http":
                    scope["scheme"] = proto
        await self.app(scope, receive, send)


NUL = (b"\x00", b"%00", b"\\u0000")  # raw, in a URL or a form, in JSON


def _holds_nul(data: bytes) -> bool:
    return any(n in data for n in NUL)


class NoNul:
    """Refuses (400) a request whose path, query or body holds a NUL character: no text
    of listguard has one, and PostgreSQL refuses it in a text column (a server error,
    and a batch of other persons' requests failed with it). The body is checked as it is
    read, chunk by chunk; the route reading it answers the refusal."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or _holds_nul(scope.get("query_string", b"")):
            scope.setdefault("state", {})["refusal"] = "nul_character"
            await PlainTextResponse("a NUL character is not accepted", 400)(scope, receive, send)
            return
        tail = b""

        async def receiving() -> Any:
            nonlocal tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = tail + message.get("body", b"")
                if _holds_nul(chunk):
                    scope.setdefault("state", {})["refusal"] = "nul_character"
                    raise HTTPException(400, "a NUL character is not accepted")
                tail = chunk[-5:]
            return message

        await self.app(scope, receiving, send)


class Headers:
    """The security headers on every answer; ``Cache-Control: no-store`` on every answer
    that did not choose its own (pages, files and API answers may hold personal data),
    except the application's static files; HSTS on answers over HTTPS (or everywhere
    when ``https`` says the site is only served over HTTPS). ``refused(scope, status)``
    is told of every 4xx answer."""

    def __init__(
        self, app: Any, refused: Callable[[Any, int], None], *, https: bool = False
    ) -> None:
        self.app = app
        self.refused = refused
        self.https = https

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith(CACHEABLE)
        https = self.https or scope.get("scheme") == "https"

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {bytes(k).lower() for k, _ in headers}
                extra = [h for h in SECURITY_HEADERS if h[0] not in present]
                if not cacheable and NO_STORE[0] not in present:
                    extra.append(NO_STORE)
                if https and HSTS[0] not in present:
                    extra.append(HSTS)
                message["headers"] = [*headers, *extra]
                if 400 <= message["status"] < 500:
                    self.refused(scope, message["status"])
            await send(message)

        await self.app(scope, receive, sending)


__all__ = ["Forwarded", "Headers", "NoNul", "forwarded_client", "networks"]
