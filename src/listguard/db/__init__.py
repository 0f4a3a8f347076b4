"""The registry: tables, engine and migrations."""
