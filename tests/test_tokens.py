"""The one text form of listguard's link tokens, read back in that form only."""

from __future__ import annotations

import base64

import pytest

from listguard.tokens import token_bytes, token_text


@pytest.mark.parametrize("size", range(0, 7))
def test_a_token_reads_back_its_bytes(size: int) -> None:
    data = bytes(range(250, 250 - size, -1))
    text = token_text(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert token_bytes(text) == data


def test_a_token_altered_to_the_same_bytes_is_refused() -> None:
    # one byte is two characters, the second carrying 4 spare bits: "AA" and "AB" decode
    # alike, but only "AA" was written
    assert token_text(b"\x00") == "AA"
    assert base64.urlsafe_b64decode("AB==") == b"\x00"  # what base64 alone accepts
    with pytest.raises(ValueError):
        token_bytes("AB")
    with pytest.raises(ValueError):
        token_bytes("A*")
