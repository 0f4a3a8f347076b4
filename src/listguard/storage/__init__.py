"""The registry's storage: one interface (``base``), one backend per database.

Domain modules read Arrow and write through ``Storage`` and its ``Tx``; every
device that makes a database fast (a writer process, a columnar copy, ADBC,
``COPY``) lives inside its backend (``sqlite``, ``postgres``) and nowhere else.
This package imports nothing: a reading child starts without loading the rest.
"""
