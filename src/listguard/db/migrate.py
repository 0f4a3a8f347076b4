"""Alembic migrations, run from the package (no alembic.ini needed)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine


def _config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "listguard.db:migrations")
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Create or upgrade the registry; returns (revision before, revision after)."""
    before = current_revision(engine)
    command.upgrade(_config(engine), "head")
    after = current_revision(engine)
    if before is not None and before != after:
        reclaim(engine)
    return before, after


def reclaim(engine: Engine) -> bool:
    """Give a SQLite file back the space its free pages hold, when they are over a
    quarter of it (a migration that made a table again leaves the old one's pages
    free: 0015 on a million contacts, 400 MiB). True when the file was compacted;
    readers do not stop it (WAL), a registry another process is writing is left as it
    is (its free pages are used again by later writes)."""
    from sqlalchemy.exc import OperationalError

    if engine.dialect.name != "sqlite":
        return False
    with engine.connect() as conn:
        free = int(conn.exec_driver_sql("PRAGMA freelist_count").scalar_one())
        pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())
    if free * 4 <= pages:
        return False
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("PRAGMA busy_timeout=1000")
            conn.exec_driver_sql("VACUUM")
    except OperationalError:
        return False
    return True
