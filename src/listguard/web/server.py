"""The application as uvicorn starts it in each worker process: the registry and the
settings come from the environment that ``listguard serve`` sets."""

from __future__ import annotations

import os

from fastapi import FastAPI

from listguard.config import load_settings
from listguard.storage.engine import check_initialised, make_engine
from listguard.web.app import create_app


def from_environment() -> FastAPI:
    engine = make_engine(None)  # $LISTGUARD_DATABASE_URL
    check_initialised(engine)
    settings = load_settings(None)  # $LISTGUARD_CONFIG
    return create_app(
        engine,
        settings,
        propagate=os.environ.get("LISTGUARD_SERVE_PROPAGATE") == "1",
        own_process=True,
    )


__all__ = ["from_environment"]
