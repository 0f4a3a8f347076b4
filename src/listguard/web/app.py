"""``listguard serve``: one web application for the persons (public pages), the owner's
team (back office) and the partners (API).

Pages are rendered on the server (Jinja2), in French by default (``?lang=en`` switches
to English and is remembered in a cookie). Handlers are plain functions: FastAPI runs
them in its thread pool, each with its own registry connection.

The routes are in ``public`` (the persons' pages), ``api`` (the owner's systems, the
partners, the partner side) and ``admin`` (the back office); what they receive (the
state, a key's grant, a session) in ``deps``; how errors are answered in ``handlers``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import AsyncIterator, Iterator
from importlib.resources import files
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from listguard import __version__, netguard
from listguard.config import Settings
from listguard.proof.access import SmsSender
from listguard.propagation.transports.routing import Transports
from listguard.propagation.transports.webhook import WebhookTransport
from listguard.propagation.worker import run_forever
from listguard.web import admin, api, handlers, public, rights, rights_requests
from listguard.web.edge import Forwarded, Headers, NoNul, networks
from listguard.web.state import HERE, Web

HANDLER_THREADS = int(os.environ.get("LISTGUARD_HANDLER_THREADS", "4"))


@contextlib.contextmanager
def _propagating(engine: Engine, settings: Settings) -> Iterator[None]:
    """The propagation worker in a thread of the server, for as long as it runs."""
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
    sms: SmsSender | None = None,
) -> FastAPI:
    """The application; ``propagate`` also sends the queued messages to the partners
    from a thread of the server (one process only: with several, run ``listguard worker``).
    ``own_process``: the application is all its process runs (``listguard serve``).
    ``sms``: the SMS adapter for proof codes, instead of the one ``[sms]`` names."""
    if settings.propagation.allow_private_endpoints:  # for tests only (warned at start)
        netguard.allow_private_endpoints(True)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
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
            app.state.web.background.shutdown(wait=True)

    app = _App(
        lifespan=lifespan,
        title="listguard",
        version=__version__,
        description="Oppositions from the owner's systems; deliveries and messages for "
        "partners; rentals explained, previewed, delivered and read back by the owner's "
        "systems (owner).",
        docs_url=None,  # served below, from this machine
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    rate = settings.web.form_rate_per_minute if rate_per_minute is None else rate_per_minute
    app.state.web = Web(engine, settings, rate)
    if sms is not None:
        app.state.web.sms = sms
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    _api_docs(app)
    app.include_router(public.router)
    app.include_router(rights.router)
    app.include_router(rights_requests.router)
    app.include_router(api.router)
    app.include_router(admin.router)

    handlers.install(app)
    return app


__all__ = ["create_app"]
