"""Comparing a secret a client sent (a token, a signature, a key) with the expected one,
in constant time.

``hmac.compare_digest`` on two ``str`` accepts ASCII only: a client sending ``é``
would raise ``TypeError`` (an unauthenticated server error). Both sides are compared as
UTF-8 bytes instead, so any text is simply unequal.
"""

from __future__ import annotations

import hmac


def same(expected: str, given: str) -> bool:
    """Whether ``given`` equals ``expected``, in a time that does not tell how much of it
    matched; any text may be given."""
    return hmac.compare_digest(
        expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    )


__all__ = ["same"]
