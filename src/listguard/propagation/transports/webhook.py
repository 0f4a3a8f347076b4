"""The webhook: each message posted to the partner's address, signed."""

from __future__ import annotations

import httpx

from listguard import netguard
from listguard.errors import InputError
from listguard.propagation.signing import SIGNATURE_HEADER, sign
from listguard.propagation.transports.base import Endpoint, Message, TransportError


class WebhookTransport:
    """POST the message as JSON to the partner's ``notify_url``, signed with its secret:
    only to an address ``netguard`` accepts, checked again as it is sent (see there);
    a redirect is a failure. The answer's status decides, its body is not read, and
    the whole request takes at most about ``timeout``. The error kept for the owner
    names the kind of failure, never the network's own text."""

    name = "webhook"

    def __init__(self, timeout: float = 10.0, allow_private: bool | None = None) -> None:
        self.allow_private = (
            netguard.private_endpoints_allowed() if allow_private is None else allow_private
        )
        self.timeout = timeout  # for the whole request, not only each phase of it
        self._client = netguard.client(timeout, self.allow_private)

    def send(self, endpoint: Endpoint, message: Message, now: int) -> None:
        assert endpoint.notify_url is not None
        try:
            url = netguard.check_endpoint_url(endpoint.notify_url, self.allow_private)
        except InputError:
            raise TransportError("refused: not an acceptable webhook address") from None
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.key,
            SIGNATURE_HEADER: sign(endpoint.secret, message.body, now),
        }
        try:
            request = self._client.build_request("POST", url, content=message.body, headers=headers)
        except Exception:  # httpx.InvalidURL: an address stored before the checks
            raise TransportError("refused: not an acceptable webhook address") from None
        try:
            response = netguard.post_status(self._client, request, self.timeout)
        except netguard.NotPublic as exc:
            raise TransportError(f"refused: {exc}") from None
        except httpx.TimeoutException:
            raise TransportError("no answer in time") from None
        except httpx.HTTPError:
            raise TransportError("cannot connect") from None
        if response.is_redirect:
            raise TransportError(f"HTTP {response.status_code}: a redirect, not followed")
        if not response.is_success:
            raise TransportError(f"HTTP {response.status_code}")

    def close(self) -> None:
        self._client.close()


__all__ = ["WebhookTransport"]
