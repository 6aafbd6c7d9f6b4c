"""Allocation on DataFrames, pure (no ORM, no I/O): the rules' grammar and tag reading (rules), aggregation
with shared and idle cost (engine), tag coverage (coverage). Import from the module that owns a name."""
