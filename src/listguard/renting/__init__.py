"""Renting: orders, the delivery folder, the ledger."""
