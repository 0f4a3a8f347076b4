"""What the web application holds for as long as it runs, shared by every handler:
the registry, the settings, the templates, the form key, the rate limits, the counts
of refused requests and the group commits of the API's writes."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import threading
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from listguard.batching import BatchWriter
from listguard.collection import Collected, Collection, record_collections
from listguard.config import Settings
from listguard.constant_time import same
from listguard.db.keys import registry_secret
from listguard.domain.retention import Retention
from listguard.oppositions import OppositionRequest, Recorded, record_oppositions
from listguard.proof.access import SmsSender
from listguard.proof.senders import sms_sender
from listguard.storage.engine import writing
from listguard.web.i18n import LANGS, text_for
from listguard.web.throttle import SignInThrottle
from listguard.web.words import install as install_words

HERE = Path(__file__).parent
FORM_TOKEN_SECONDS = 2 * 3600
PROOF_PER_MINUTE = 3  # requests for a consent proof per email address or number


class RateLimit:
    """At most ``per_minute`` requests per client in any minute (a sliding window kept in
    memory, per process). Clients are told apart by a keyed digest of their address, so
    no address is kept."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._key = secrets.token_bytes(16)

    def allow(self, client: str) -> bool:
        if self.per_minute <= 0:
            return True
        who = hmac.new(self._key, client.encode(), hashlib.sha256).hexdigest()[:24]
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(who, deque())
            while hits and hits[0] <= now - 60:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return False
            hits.append(now)
            if len(self._hits) > 100_000:  # forget idle clients
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - 60}
            return True


class Refusals:
    """Inputs the application refused (4xx answers), counted in memory per route and
    reason and added to the registry's ``refusals`` table by ``flush`` (every few
    seconds, and when the server stops): an attack costs no write per request."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def add(self, route: str, reason: str) -> None:
        with self._lock:
            self._counts[(route[:40], reason[:40])] += 1

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, Counter()
        if not counts:
            return
        day = int(time.time()) // 86400 * 86400
        try:
            with writing(self.engine) as conn:
                conn.execute(
                    text(
                        "INSERT INTO refusals (day, route, reason, count) VALUES (:d, :r, :w, :n) "
                        "ON CONFLICT (day, route, reason) DO UPDATE "
                        "SET count = refusals.count + excluded.count"
                    ),
                    [{"d": day, "r": r, "w": w, "n": n} for (r, w), n in counts.items()],
                )
        except Exception:  # the registry is busy: the counts wait for the next flush
            with self._lock:
                self._counts.update(counts)
            raise

    def run(self, stop: threading.Event, every: float = 5.0) -> None:
        while not stop.wait(every):
            with contextlib.suppress(OperationalError):
                self.flush()
        self.flush()


class Web:
    """What every handler needs: the registry, the settings, the templates."""

    def __init__(self, engine: Engine, settings: Settings, rate_per_minute: int) -> None:
        self.engine = engine
        self.settings = settings
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        # the templates ship with the package: not one stat() per page to see if they changed
        self.templates.env.auto_reload = False
        install_words(self.templates.env)  # ``{{ code | words("via") }}``: a code in words
        # the registry's, so that every worker process accepts the forms of the others
        with engine.begin() as conn:
            self.form_secret = str(registry_secret(conn, "forms", create=True)).encode()
        self.rate = RateLimit(rate_per_minute)
        # requests for a consent proof: per email address or number, besides per client
        self.proof_rate = RateLimit(PROOF_PER_MINUTE)
        self.sms: SmsSender | None = sms_sender(settings.sms)
        # the proof links' mails and codes' SMS, made and sent after the answer: the
        # answer takes the same time whether the registry holds the person or not
        self.background = ThreadPoolExecutor(1, thread_name_prefix="proof-requests")
        self.sign_ins = SignInThrottle()
        self.refusals = Refusals(engine)
        # the collection API's and the opposition routes' group commits
        self.collections: BatchWriter[Collection, Collected] = BatchWriter(
            lambda items: record_collections(engine, items), "collections"
        )
        retention = Retention.of(settings)
        self.oppositions: BatchWriter[OppositionRequest, Recorded] = BatchWriter(
            lambda items: record_oppositions(engine, items, retention), "oppositions"
        )

    def refused(self, request: Request, reason: str) -> None:
        """Name why the request is refused (counted with its route when answered 4xx)."""
        request.state.refusal = reason

    def lang(self, request: Request) -> str:
        asked = request.query_params.get("lang") or request.cookies.get("lang")
        return asked if asked in LANGS else "fr"

    def form_token(self) -> str:
        """A signed, dated token for public forms (no session needed)."""
        stamp = str(int(time.time()))
        mac = hmac.new(self.form_secret, stamp.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{stamp}.{mac}"

    def form_token_ok(self, token: str) -> bool:
        stamp, _, mac = token.partition(".")
        if not (stamp.isascii() and stamp.isdigit()):
            return False
        expected = hmac.new(self.form_secret, stamp.encode(), hashlib.sha256).hexdigest()[:32]
        fresh = 0 <= time.time() - int(stamp) <= FORM_TOKEN_SECONDS
        return fresh and same(expected, mac)

    def page(
        self, request: Request, name: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        lang = self.lang(request)
        owner = self.settings.owner.name

        def t(key: str, **values: str) -> str:
            return text_for(lang, key, owner=owner, **values)

        def tr(french: str, english: str) -> str:
            """A text of the back office, written in both languages where it is used."""
            return english if lang == "en" else french

        # the other language's link is this page's, with its query (a version, a link's
        # token, a search) kept
        kept = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "lang"])
        response = self.templates.TemplateResponse(
            request,
            name,
            {
                "t": t,
                "tr": tr,
                "lang": lang,
                "owner": self.settings.owner,
                "other_query": kept,
                **context,
            },
            status_code=status_code,
        )
        if request.query_params.get("lang") in LANGS:
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
        return response


__all__ = ["HERE", "RateLimit", "Refusals", "Web"]
