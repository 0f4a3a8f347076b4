"""The messages as one CSV file: what a file drop writes and an email digest attaches."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections.abc import Sequence

from listguard.io.formula import neutralise
from listguard.propagation.transports.base import Message


def coordinate_hash(secret: str, coordinate: str) -> str:
    """A keyed hash of a coordinate (HMAC-SHA256 with the partner's secret, hex), as
    written in the file drops of a partner that asked for hashes: it finds its own
    records by hashing its coordinates the same way; whoever reads the file without the
    key learns nothing."""
    return hmac.new(secret.encode(), coordinate.encode("utf-8"), hashlib.sha256).hexdigest()


def messages_csv(messages: Sequence[Message], hash_key: str | None = None) -> str:
    """The messages as one CSV (UTF-8 text, ``;``): one line per coordinate; with
    ``hash_key``, a column ``coordinate_sha256`` of keyed hashes instead of the
    coordinates (and of the corrected values). A coordinate is the only cell that data
    can start: it is neutralised against spreadsheet formulas (``io/formula.py``; the
    others are listguard's codes, dates, URL and JSON)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    coordinate = "coordinate" if hash_key is None else "coordinate_sha256"
    writer.writerow(
        [
            "message",
            "type",
            "occurred_at",
            "contact_ref",
            "channel",
            coordinate,
            "corrected",
            "ack_url",
        ]
    )
    for message in messages:
        payload = json.loads(message.body)
        for item in payload["contacts"]:
            value = item["coordinate"]
            corrected = item.get("corrected") or {}
            if hash_key is not None:
                value = coordinate_hash(hash_key, value)
                corrected = {k: coordinate_hash(hash_key, v) for k, v in corrected.items()}
            writer.writerow(
                [
                    message.key,
                    payload["type"],
                    payload["occurred_at"],
                    item["contact_ref"],
                    item["channel"],
                    neutralise(value, numbers=True),
                    json.dumps(corrected, ensure_ascii=False, sort_keys=True) if corrected else "",
                    payload.get("ack_url", ""),
                ]
            )
    return out.getvalue()


__all__ = ["coordinate_hash", "messages_csv"]
