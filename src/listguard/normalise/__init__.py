"""Normalisation of coordinates: phone numbers, emails, civility, postal codes.

Each module has a vectorised function over a Polars Series (the batch path)
and a scalar wrapper over the same code (one value, for the API and ``check``),
so the two can never disagree.
"""
