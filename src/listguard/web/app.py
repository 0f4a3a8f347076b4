"""``listguard serve``: one web application for the persons (public pages), the owner's
team (back office) and the partners (API).

Pages are rendered on the server (Jinja2), in French by default (``?lang=en`` switches
to English and is remembered in a cookie). Handlers are plain functions: FastAPI runs
them in its thread pool, each with its own registry connection.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from listguard import __version__
from listguard.batching import BatchWriter
from listguard.collection import Collected, Collection, record_collections
from listguard.config import Settings
from listguard.constant_time import same
from listguard.domain.retention import Retention
from listguard.oppositions import OppositionRequest, Recorded, record_oppositions
from listguard.web.edge import Forwarded, Headers, NoNul, networks
from listguard.web.i18n import LANGS, text_for
from listguard.web.throttle import SignInThrottle

HERE = Path(__file__).parent
FORM_TOKEN_SECONDS = 2 * 3600
HANDLER_THREADS = int(os.environ.get("LISTGUARD_HANDLER_THREADS", "4"))


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
        from sqlalchemy import text

        from listguard.db.engine import writing

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
        from sqlalchemy.exc import OperationalError

        while not stop.wait(every):
            with contextlib.suppress(OperationalError):
                self.flush()
        self.flush()


class Web:
    """What every handler needs: the registry, the settings, the templates."""

    def __init__(self, engine: Engine, settings: Settings, rate_per_minute: int) -> None:
        from listguard.db.keys import registry_secret

        self.engine = engine
        self.settings = settings
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        # the templates ship with the package: not one stat() per page to see if they changed
        self.templates.env.auto_reload = False
        # the registry's, so that every worker process accepts the forms of the others
        with engine.begin() as conn:
            self.form_secret = str(registry_secret(conn, "forms", create=True)).encode()
        self.rate = RateLimit(rate_per_minute)
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

        response = self.templates.TemplateResponse(
            request,
            name,
            {"t": t, "tr": tr, "lang": lang, "owner": self.settings.owner, **context},
            status_code=status_code,
        )
        if request.query_params.get("lang") in LANGS:
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
        return response


def client_of(request: Request) -> str:
    """The client's address (behind a trusted reverse proxy, the one it forwards: see
    ``edge.Forwarded``)."""
    return request.client.host if request.client else "unknown"


async def web(request: Request) -> Web:
    """The application's state (async: no I/O, so no trip through the thread pool)."""
    state: Web = request.app.state.web
    return state


@contextlib.contextmanager
def _propagating(engine: Engine, settings: Settings) -> Iterator[None]:
    """The propagation worker in a thread of the server, for as long as it runs."""
    from listguard.propagation import Transports, WebhookTransport, run_forever

    webhook = WebhookTransport()
    transports = Transports.from_settings(settings, webhook)
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever, args=(engine, transports, stop), name="propagation", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
        webhook.close()


def _api_docs(app: FastAPI) -> None:
    """``/api/docs``: Swagger UI from the ``fastapi-offline`` package's copy, served by
    the application under the same content policy as its pages (no script from another
    host, none inline)."""
    from importlib.resources import files

    assets = files("fastapi_offline") / "static"
    app.mount("/api/docs/assets", StaticFiles(directory=str(assets)), name="api-docs-assets")

    @app.get("/api/docs", include_in_schema=False)
    def api_docs(request: Request) -> HTMLResponse:
        w: Web = request.app.state.web
        return w.templates.TemplateResponse(request, "api_docs.html", {"title": app.title})


class _App(FastAPI):
    """The application, inside the layers every request and answer passes through
    (``edge``): outside Starlette's ``ServerErrorMiddleware`` too, so that a server
    error's answer carries the same headers as any other."""

    def build_middleware_stack(self) -> Any:
        w: Web = self.state.web
        refusals = w.refusals

        def refused(scope: Any, status: int) -> None:
            route = scope.get("route")
            reason = scope.get("state", {}).get("refusal")
            refusals.add(getattr(route, "path", "(no route)"), reason or str(status))

        https = w.settings.web.public_url.startswith("https://")
        inner = Headers(NoNul(super().build_middleware_stack()), refused, https=https)
        return Forwarded(inner, networks(w.settings.web.trusted_proxies))


def create_app(
    engine: Engine,
    settings: Settings,
    *,
    rate_per_minute: int | None = None,
    propagate: bool = False,
    own_process: bool = False,
) -> FastAPI:
    """The application; ``propagate`` also sends the queued messages to the partners
    from a thread of the server (one process only: with several, run ``listguard worker``).
    ``own_process``: the application is all its process runs (``listguard serve``)."""
    from listguard import netguard
    from listguard.web import admin, api, calls_api, public

    if settings.propagation.allow_private_endpoints:  # for tests only (warned at start)
        netguard.allow_private_endpoints(True)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        # handlers run in a few threads: with one registry writer at a time and the GIL,
        # more threads only add switching; requests beyond them wait in the event loop
        anyio.to_thread.current_default_thread_limiter().total_tokens = HANDLER_THREADS
        if own_process:
            # what is loaded by now lives as long as the server: out of the garbage
            # collector's sight, so that its full collections no longer walk it (under
            # load, they paused every request: p99 of the collection API 165 ms to 115)
            gc.collect()
            gc.freeze()
        stop = threading.Event()
        counting = threading.Thread(
            target=app.state.web.refusals.run, args=(stop,), name="refusals", daemon=True
        )
        counting.start()
        try:
            with _propagating(engine, settings) if propagate else contextlib.nullcontext():
                yield
        finally:
            stop.set()
            counting.join(timeout=30)
            app.state.web.collections.close()
            app.state.web.oppositions.close()

    app = _App(
        lifespan=lifespan,
        title="listguard",
        version=__version__,
        description="Oppositions from the owner's systems; deliveries and messages for partners.",
        docs_url=None,  # served below, from this machine
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    rate = settings.web.form_rate_per_minute if rate_per_minute is None else rate_per_minute
    app.state.web = Web(engine, settings, rate)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    _api_docs(app)
    app.include_router(public.router)
    app.include_router(api.router)
    app.include_router(calls_api.router)
    app.include_router(admin.router)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.headers and "Location" in exc.headers:  # a page that needs signing in
            return Response(status_code=exc.status_code, headers=exc.headers)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        w: Web = request.app.state.web
        message = (
            text_for(w.lang(request), "not_found") if exc.status_code == 404 else str(exc.detail)
        )
        return w.page(request, "error.html", status_code=exc.status_code, message=message)

    return app


__all__ = ["RateLimit", "Refusals", "Web", "create_app", "web"]
