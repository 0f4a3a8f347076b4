"""The eligibility engine of ``shared/spec/rules.md``: rule packs as data, one set-based query."""
