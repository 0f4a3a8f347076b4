"""The PostgreSQL backend: Arrow read and written with ``COPY``."""
