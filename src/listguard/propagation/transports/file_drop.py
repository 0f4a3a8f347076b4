"""The file drop: a CSV file per message, in a folder per partner."""

from __future__ import annotations

import os
from pathlib import Path

from listguard.errors import InputError
from listguard.paths import confined
from listguard.propagation.transports.base import Endpoint, Message, TransportError
from listguard.propagation.transports.tabular import messages_csv


class FileDropTransport:
    """A CSV file per message in ``folder/<partner_id>/``, written whole then renamed into
    place (named by the idempotency key, so a repeat replaces it)."""

    name = "file"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, endpoint: Endpoint, message: Message, now: int) -> None:
        body = messages_csv([message], endpoint.secret if endpoint.hashed else None)
        try:  # names from the registry: still, never outside the folder
            target = confined(self.folder, endpoint.partner_id)
            confined(target, f"{message.key}.csv")
        except InputError:
            raise TransportError("refused: the partner id cannot name a folder") from None
        try:
            target.mkdir(parents=True, exist_ok=True)
            tmp = target / f".{message.key}.partial"
            tmp.write_text("\ufeff" + body, encoding="utf-8")
            os.replace(tmp, target / f"{message.key}.csv")
        except OSError as exc:
            raise TransportError(f"cannot write to {target}: {exc}") from None


__all__ = ["FileDropTransport"]
