"""Writes for finops, one module per concern; import from the module that owns the function."""
