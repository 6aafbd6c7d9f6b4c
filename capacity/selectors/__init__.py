"""Capacity reads, one module per concern; pages and the API import from the module that owns the read."""
