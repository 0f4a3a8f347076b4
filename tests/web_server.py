"""A real listguard web server on a loopback port, in a thread of the test process."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from listguard.accounts import SCOPES, add_account, create_api_key
from listguard.config import Owner, Settings, WebSettings
from listguard.web.app import create_app
from listguard.web.state import Web
from tests.scenario import Scenario, contact, partner


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn until the block ends; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        proxy_headers=False,  # as `listguard serve`: only the application's trusted proxies
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


PASSWORD = "correct horse battery"


@dataclass
class Site:
    """A served registry: two contacts rented to P1 (email, sms) and P2 (postal), an
    admin account, a machine key and a key for each partner."""

    url: str
    engine: Engine
    tmp: Path
    machine: str  # a key of the owner's systems
    p1: str  # partner P1's key
    p2: str  # partner P2's key
    web: Web  # the application's state

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=30)


def web_settings(tmp: Path, rate: int = 1000) -> Settings:
    return Settings(
        owner=Owner(name="Éditions Exemple", rights_contact="dpo@editions.example.com"),
        web=WebSettings(deliveries_dir=str(tmp / "deliveries"), form_rate_per_minute=rate),
    )


@contextmanager
def served_site(engine: Engine, tmp_path: Path) -> Iterator[Site]:
    sc = Scenario(
        engine,
        tmp_path,
        contacts=[
            contact("C1", email="c1@example.com"),
            contact("C2", email="c2@example.com", mobile="", address_line4="3 rue Neuve"),
        ],
        partners=[
            partner("P1", privacy_policy_url="https://p1.example.com/vie-privee"),
            partner("P2", listed_from="2026-03-01"),
        ],
    )
    sc.load()
    sc.rent(partner="P1", channels=("email", "sms"), out="d1")
    sc.rent(partner="P2", channels=("postal",), out="d2")
    add_account(engine, "admin@example.com", PASSWORD, "admin")
    # every scope of the owner's systems, the owner API's (given by name only) included
    machine, _ = create_api_key(engine, role="machine", scopes=SCOPES["machine"], label="crm")
    p1, _ = create_api_key(engine, role="partner", partner_id="P1")
    p2, _ = create_api_key(engine, role="partner", partner_id="P2")
    app = create_app(engine, web_settings(tmp_path))
    with serving(app) as url:
        yield Site(url, engine, tmp_path, machine, p1, p2, app.state.web)


def form_token(page: str, name: str = "token") -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page)
    assert found, f"no {name} in the page"
    return found.group(1)
