"""Reading and writing the interchange files (``shared/spec/formats.md``)."""
