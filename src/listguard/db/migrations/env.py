"""Alembic environment: the engine comes from ``listguard.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from listguard.db.schema import metadata
from listguard.storage.engine import make_engine

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):
    engine = make_engine(config.get_main_option("sqlalchemy.url") or None)

with engine.begin() as connection:
    if connection.dialect.name == "sqlite":
        # Python's sqlite3 (before 3.12) begins a transaction only before a statement
        # that changes rows: the DDL before it would be committed statement by statement,
        # and a migration failing halfway would leave its tables half made
        connection.exec_driver_sql("BEGIN")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
