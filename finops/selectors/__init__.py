"""Reads for finops, one module per concern."""
