"""The sign-in throttle: after a few failed sign-ins to one account, whatever addresses
they came from, that account's sign-in is refused for a while.

The account is named by the email typed, known to the registry or not: the answers say
nothing of whether an account exists. Kept in memory per process (like the forms' rate
limit), by a keyed digest of the email, so that no address is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import deque

FAILURES = 5  # failed sign-ins to one account within WINDOW seconds...
WINDOW = 15 * 60
LOCK = 15 * 60  # ...refuse its sign-in for this many seconds


class SignInThrottle:
    def __init__(
        self, failures: int = FAILURES, window: float = WINDOW, lock: float = LOCK
    ) -> None:
        self.failures, self.window, self.lock = failures, window, lock
        self._failed: dict[str, deque[float]] = {}
        self._locked: dict[str, float] = {}
        self._mutex = threading.Lock()
        self._key = secrets.token_bytes(16)

    def _who(self, email: str) -> str:
        named = email.strip().lower().encode("utf-8", "surrogatepass")
        return hmac.new(self._key, named, hashlib.sha256).hexdigest()[:24]

    def minutes_left(self, email: str, now: float | None = None) -> int:
        """0 when the account may try to sign in; else the minutes until it may again
        (rounded up)."""
        clock = time.monotonic() if now is None else now
        with self._mutex:
            until = self._locked.get(self._who(email), 0.0)
        return math.ceil((until - clock) / 60) if until > clock else 0

    def failed(self, email: str, now: float | None = None) -> None:
        """A failed sign-in to ``email``; the last one allowed locks the account."""
        clock = time.monotonic() if now is None else now
        who = self._who(email)
        with self._mutex:
            if len(self._failed) > 100_000:  # forget idle accounts
                self._forget(clock)
            tries = self._failed.setdefault(who, deque())
            while tries and tries[0] <= clock - self.window:
                tries.popleft()
            tries.append(clock)
            if len(tries) >= self.failures:
                self._locked[who] = clock + self.lock
                tries.clear()

    def succeeded(self, email: str) -> None:
        with self._mutex:
            self._failed.pop(self._who(email), None)

    def _forget(self, clock: float) -> None:
        self._failed = {k: v for k, v in self._failed.items() if v and v[-1] > clock - self.window}
        self._locked = {k: v for k, v in self._locked.items() if v > clock}


__all__ = ["FAILURES", "LOCK", "WINDOW", "SignInThrottle"]
