"""Imports of the interchange files into the registry (``shared/spec/formats.md``)."""
