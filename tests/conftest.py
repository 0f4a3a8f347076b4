"""Fixtures: a migrated registry per test, on SQLite, and on PostgreSQL when configured."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from listguard.db.migrate import upgrade
from listguard.storage.engine import make_engine
from tests.web_server import Site, served_site

PG_URL = os.environ.get("LISTGUARD_TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite registry, copied for each test (migrations run once)."""
    path = tmp_path_factory.mktemp("template") / "registry.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def _sqlite_engine(template: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "registry.db"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def _pg_engine() -> Iterator[Engine]:
    if not PG_URL:
        pytest.skip("LISTGUARD_TEST_POSTGRES_URL is not set")
    schema = f"lgtest_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    upgrade(engine)
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite registry."""
    yield from _sqlite_engine(sqlite_template, tmp_path)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_engine(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path
) -> Iterator[Engine]:
    """A fresh registry on SQLite, then on PostgreSQL (registry and rules suites)."""
    if request.param == "sqlite":
        yield from _sqlite_engine(sqlite_template, tmp_path)
    else:
        yield from _pg_engine()


@pytest.fixture
def site(engine: Engine, tmp_path: Path) -> Iterator[Site]:
    """The web application served on loopback over a small registry (``web_server``)."""
    with served_site(engine, tmp_path) as served:
        yield served


@pytest.fixture
def private_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Webhook addresses on loopback accepted, as ``[propagation]
    allow_private_endpoints = true`` does (the tests' partners listen on 127.0.0.1)."""
    from listguard import netguard

    monkeypatch.setattr(netguard, "_ALLOW_PRIVATE", True)
