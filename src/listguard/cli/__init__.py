"""The command line: a thin layer over the library (``shared/spec/cli.md``)."""
