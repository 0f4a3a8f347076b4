"""Addresses given by partners, checked in one place for every route.

A partner's webhook address (``notify_url``) is where the worker posts signed
messages: taken as given, it would let a partner make the owner's server call its
own network (a cloud metadata service, a database on loopback) and read back,
through the message's status, whether something answered. So:

- ``check_endpoint_url`` is the one check of a webhook address (the partners import
  and the back office form, ``listguard partner-endpoint``, ``PUT
  /api/v1/partner/endpoint``): ``https`` only; a host that is a DNS name with a dot
  (not ``localhost`` or a local-only suffix) or a public IP address written in its
  usual form; no user name or password; no loopback, private, link-local,
  unique-local, shared, reserved, multicast or unspecified address, IPv4 addresses
  embedded in IPv6 (mapped, 6to4, NAT64) judged by their IPv4 part; no numeric
  forms such as ``2130706433``, ``0x7f.1``, ``127.1`` or ``0177.0.0.1``.
- ``PinnedTransport`` sends: it resolves the host at each request, refuses when any
  address it resolves to is not public (a name can be made to point anywhere after
  it was checked), connects to the address it checked, and still presents and
  verifies the host name for TLS (SNI, certificate) and in the ``Host`` header.
  Redirects are not followed (the caller treats them as failures).
- ``check_link_url``: a link shown to persons (a privacy-policy address): ``http``
  or ``https`` only, never ``javascript:`` or ``data:``.

``[propagation] allow_private_endpoints`` (off by default) lifts the address
checks and accepts ``http``, for tests and a relay on the owner's own network; the
commands warn at start while it is on.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from listguard.errors import InputError

if TYPE_CHECKING:
    import httpx

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

MAX_URL = 2000
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# names that only ever mean this machine or the local network
_LOCAL_SUFFIXES = ("localhost", "local", "localdomain", "internal", "intranet", "lan", "arpa")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# not public, though some Python versions (3.11) call part of them global: the
# deprecated IPv6 site-local block and the IETF protocol assignments
_DENIED = (ipaddress.ip_network("fec0::/10"), ipaddress.ip_network("192.0.0.0/24"))
_ALLOW_PRIVATE = False  # the setting, for the process (``allow_private_endpoints``)

PRIVATE_WARNING = (
    "warning: [propagation] allow_private_endpoints is on: partners' webhook addresses "
    "may point at this machine and the owner's network (meant for tests only)"
)


def allow_private_endpoints(on: bool) -> None:
    """Set ``[propagation] allow_private_endpoints`` for this process (the commands and
    the server do, from the settings)."""
    global _ALLOW_PRIVATE
    _ALLOW_PRIVATE = on


def private_endpoints_allowed() -> bool:
    return _ALLOW_PRIVATE


class NotPublic(Exception):
    """The address a webhook's host resolves to is not a public one."""


def is_public(ip: IP) -> bool:
    """True for a globally routable unicast address; an IPv4 address carried in an IPv6
    one (mapped, 6to4, NAT64) is judged by its IPv4 part, Teredo is refused."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            return is_public(ip.sixtofour)
        if ip.teredo is not None:
            return False
        if ip in _NAT64:
            return is_public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if any(ip.version == net.version and ip in net for net in _DENIED):
        return False
    return bool(
        ip.is_global
        and not ip.is_multicast
        and not ip.is_reserved
        and not ip.is_loopback
        and not ip.is_link_local
        and not ip.is_unspecified
    )


class _Bad(Exception):
    """Why an address is refused (the message names no address)."""


def _parts(url: str) -> SplitResult:
    if not isinstance(url, str) or not url:
        raise _Bad("an address is required")
    if len(url) > MAX_URL:
        raise _Bad(f"longer than {MAX_URL} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 or c == "\\" for c in url):
        raise _Bad("spaces, control characters or \\ are not accepted")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError as exc:
        raise _Bad(str(exc)) from None
    return parts


def _host_ip(host: str, bracketed: bool) -> IP | None:
    """The IP address ``host`` is written as, None for a name; ``_Bad`` for a numeric
    form other than the usual dotted quad."""
    if bracketed:
        if "%" in host:
            raise _Bad("an IPv6 zone is not accepted")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise _Bad("not a valid IPv6 address") from None
    last = host.rstrip(".").rsplit(".", 1)[-1]
    if re.fullmatch(r"[0-9]+|0x[0-9a-f]*", last):
        # only a, b, c, d in 0-255 without leading zeros: 2130706433, 127.1, 0x7f.0.0.1,
        # 0177.0.0.1 are the same machine written otherwise
        try:
            return ipaddress.IPv4Address(host)
        except ValueError:
            raise _Bad("a numeric host must be written a.b.c.d") from None
    return None


def _ascii_labels(url: str, host: str) -> list[str]:
    """The labels of the name ``host`` as the sender will write it (ASCII), ``_Bad`` when
    the sender would not take the address, or would read another host in it than the
    one written: a name written with other characters than ASCII must be an
    internationalised name, each label of it written in its ``xn--`` form and no other
    dot than ``.`` (``127。0。0。1`` is 127.0.0.1; ``ⓔⓥⓘⓛ.com`` is refused when sending)."""
    import httpx

    try:
        sent = httpx.URL(url).raw_host.decode("ascii").lower()
    except Exception:  # httpx.InvalidURL, and whatever else its parser raises
        raise _Bad("the host is not a valid name") from None
    labels = sent.rstrip(".").split(".")
    written = host.rstrip(".").split(".")
    if host.isascii():
        if sent != host:
            raise _Bad("the host is not a valid name")
    elif len(written) != len(labels) or any(
        (w != a) if w.isascii() else not a.startswith("xn--")
        for w, a in zip(written, labels, strict=True)
    ):
        raise _Bad("the host is not a valid name")
    return labels


def webhook_problem(url: str, allow_private: bool | None = None) -> str | None:
    """Why ``url`` is not an acceptable webhook address, None if it is.
    ``allow_private``: default, the process's setting."""
    allow = _ALLOW_PRIVATE if allow_private is None else allow_private
    try:
        parts = _parts(url)
        scheme = parts.scheme.lower()
        if scheme != "https" and not (allow and scheme == "http"):
            raise _Bad("https://... expected")
        if "@" in parts.netloc:
            raise _Bad("a user name or password is not accepted in the address")
        host = (parts.hostname or "").lower()
        if not host:
            raise _Bad("no host")
        ip = _host_ip(host, "[" in parts.netloc)
        if ip is not None:
            if not allow and not is_public(ip):
                raise _Bad("the host is not a public address")
            return None
        labels = _ascii_labels(url, host)
        if not all(_LABEL.match(label) for label in labels):
            raise _Bad("the host is not a valid name")
        if not allow and (len(labels) < 2 or labels[-1] in _LOCAL_SUFFIXES):
            raise _Bad("the host is not a public name")
    except _Bad as exc:
        return str(exc)
    return None


def check_endpoint_url(url: str, allow_private: bool | None = None) -> str:
    """``url`` if it is an acceptable webhook address, else ``InputError`` saying why."""
    problem = webhook_problem(url, allow_private)
    if problem is not None:
        raise InputError(f"{url!r} is not a webhook address: {problem}")
    return url


def link_problem(url: str) -> str | None:
    """Why ``url`` is not a web link fit to show persons (``http``/``https`` with a
    host, no user name), None if it is."""
    try:
        parts = _parts(url)
        if parts.scheme.lower() not in ("http", "https"):
            raise _Bad("http:// or https:// expected")
        if not parts.hostname or "@" in parts.netloc:
            raise _Bad("a host name (and no user name) is expected")
    except _Bad as exc:
        return str(exc)
    return None


def check_link_url(url: str, what: str = "link") -> str:
    """``url`` if ``link_problem`` finds nothing, else ``InputError``."""
    problem = link_problem(url)
    if problem is not None:
        raise InputError(f"{what} {url!r} is not accepted: {problem}")
    return url


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (TCP)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def public_address(
    host: str, port: int, allow_private: bool, resolver: Resolver | None = None
) -> str:
    """The address to connect to for ``host``: the first it resolves to, once all of
    them are checked; ``NotPublic`` if any is not public (unless ``allow_private``)."""
    try:
        addresses = (resolver or resolve)(host, port)  # ``resolve`` looked up now
    except (OSError, UnicodeError):
        raise NotPublic("the host name does not resolve") from None
    if not addresses:
        raise NotPublic("the host name does not resolve")
    checked = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
    if not allow_private and not all(is_public(ip) for ip in checked):
        raise NotPublic("the host resolves to an address that is not public")
    return str(checked[0])


class PinnedTransport:
    """An ``httpx`` transport that connects only to the checked address of the request's
    host (see the module's text). One connection pool per host name, so a connection
    whose TLS session was made for one name is never used for another."""

    def __init__(
        self,
        *,
        allow_private: bool | None = None,
        resolver: Resolver | None = None,
        **pool: Any,
    ) -> None:
        self.allow_private = _ALLOW_PRIVATE if allow_private is None else allow_private
        self._resolver = resolver
        self._pool_options = pool
        self._pools: dict[tuple[str, str, int], httpx.HTTPTransport] = {}
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        import httpx

        url = request.url
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        address = public_address(host, port, self.allow_private, self._resolver)
        with self._lock:
            pool = self._pools.get((url.scheme, host, port))
            if pool is None:
                pool = httpx.HTTPTransport(**self._pool_options)
                self._pools[(url.scheme, host, port)] = pool
        # the Host header was made from the original address; TLS names the host too
        request.url = url.copy_with(host=address)
        request.extensions = {**request.extensions, "sni_hostname": host}
        return pool.handle_request(request)

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()


def client(timeout: float, allow_private: bool | None = None, **pool: Any) -> httpx.Client:
    """An ``httpx`` client for webhooks: pinned addresses, no redirect followed, no proxy
    or setting taken from the environment, a new connection for each request (so that
    ``post_status`` can always bound the whole of it)."""
    import httpx

    pool.setdefault("limits", httpx.Limits(max_keepalive_connections=0))
    transport = PinnedTransport(allow_private=allow_private, **pool)

    class _Adapter(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            return transport.handle_request(request)

        def close(self) -> None:
            transport.close()

    return httpx.Client(
        timeout=timeout, follow_redirects=False, trust_env=False, transport=_Adapter()
    )


class _Deadline:
    """Shuts the request's connection down once ``seconds`` have passed, whatever phase
    it is in: httpx's timeouts are per phase and per read, so an endpoint answering a
    byte at a time would hold the sender as long as it likes. The socket is taken from
    httpcore's trace of the connection (``connect_tcp``, then ``start_tls``)."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def trace(self, name: str, info: dict[str, Any]) -> None:
        if name not in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with self._lock:
                self._socket = sock
                if self.expired:
                    self._shut()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shut()

    def _shut(self) -> None:
        if self._socket is not None:
            # the plain socket's shutdown (an SSLSocket's own would drop its state)
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self._socket, socket.SHUT_RDWR)

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def post_status(client: httpx.Client, request: httpx.Request, seconds: float) -> httpx.Response:
    """Send ``request`` (made by ``client``, one of ``client()``'s) and return its
    response once its status and headers are read: the body is never read (it could be
    endless), and the whole exchange takes at most about ``seconds``, else
    ``httpx.TimeoutException``."""
    import httpx

    deadline = _Deadline(seconds)
    request.extensions = {**request.extensions, "trace": deadline.trace}
    with deadline:
        try:
            response = client.send(request, stream=True)
        except httpx.HTTPError:
            if deadline.expired:
                raise httpx.TimeoutException("no answer in time", request=request) from None
            raise
        response.close()  # unread: the connection is dropped, not reused
    return response


__all__ = [
    "NotPublic",
    "PinnedTransport",
    "allow_private_endpoints",
    "check_endpoint_url",
    "check_link_url",
    "client",
    "is_public",
    "link_problem",
    "post_status",
    "public_address",
    "webhook_problem",
]
