"""The SQLite backend: pragmas and writer locks, the writer process, the reading child
and its columnar copies, ADBC, the first load (ADRs 6, 12-16, 25). Imports nothing:
its child processes start fast."""
