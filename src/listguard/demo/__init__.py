"""The demo: a realistic French sample base and the whole flow on it."""
