"""The one error every reader raises for bad input."""

from __future__ import annotations


class BillingFileError(Exception):
    """A billing file that cannot be read as it stands.

    ``row`` is the 1-based data row number in the file (the header is not a data row), counted
    across batches; ``column`` is the column name as written in the file. Either is None when the
    problem is not tied to one row or column.
    """

    def __init__(self, path: str, message: str, *, row: int | None = None, column: str | None = None) -> None:
        self.path = path
        self.row = row
        self.column = column
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [self.path]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.message}"
