"""Opening a billing export and reading it as normalised frames, batch by batch."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import pandas as pd
import pyarrow as pa

from finops.importers import checks, cur, focus
from finops.importers.batch import Batch, ColumnPlan
from finops.importers.errors import BillingFileError
from finops.importers.reading import (
    PARQUET,
    Source,
    csv_batches,
    csv_header,
    parquet_batches,
    parquet_schema,
    unique_names,
)
from finops.importers.schema import BillingFormat, detect_format
from finops.importers.values import BatchContext


@dataclass
class BillingFile:
    """An opened billing export: its format, and its rows as normalised frames through ``batches()``.

    ``ignored_columns``: the header's columns that its format does not define, as written (see ``checks``).
    """

    path: str
    format: BillingFormat
    version: str | None
    total_rows: int | None
    ignored_columns: tuple[str, ...] = ()
    _source: Source = field(repr=False, compare=False, kw_only=True)
    _container: str = field(repr=False, compare=False, kw_only=True)
    _header: list[str] = field(repr=False, compare=False, kw_only=True)
    _plan: ColumnPlan = field(repr=False, compare=False, kw_only=True)

    def batches(
        self,
        *,
        default_account_id: str | None = None,
        batch_rows: int = 100_000,
        max_integer_digits: int | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Frames of at most ``batch_rows`` rows with exactly NORMALISED_COLUMNS, in file order.

        ``default_account_id`` is the account of a file that has no account column; ``max_integer_digits``,
        when given, how many digits before the point a cost or quantity may have (what the caller can store).
        Raises BillingFileError (naming the 1-based data row and the column) on the first bad value, such as
        a period that ends before it starts; frames already yielded stay valid, so a caller that must not
        keep partial files loads in one transaction.
        """
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        normalise = focus.normalise if self.format is BillingFormat.FOCUS else cur.normalise
        first_row = 1
        for table in self._tables(batch_rows):
            if table.num_rows == 0:
                continue
            context = BatchContext(self.path, first_row, column_names=self._file_names())
            batch = Batch.from_table(table, self._plan, context, default_account_id)
            normalised = normalise(batch)
            checks.periods_in_order(normalised, context, self.format)
            if max_integer_digits is not None:
                checks.numbers_storable(normalised, context, self.format, max_integer_digits)
            yield normalised
            first_row += table.num_rows

    def _tables(self, batch_rows: int) -> Iterator[pa.Table | pa.RecordBatch]:
        columns = self._plan.file_columns()
        if self._container == PARQUET:
            return parquet_batches(self._source, columns, batch_rows)
        return csv_batches(self._source, self._container, self._header, columns, batch_rows)

    def _file_names(self) -> dict[str, str]:
        """Source column name → the name as written in the file, for error messages."""
        return {source: name.split("#")[0] for source, name in self._plan.columns.items()}


def open_billing_file(source: str | os.PathLike[str] | BinaryIO, *, name: str | None = None) -> BillingFile:
    """Open a FOCUS, CUR 2.0 or legacy CUR export (Parquet, CSV, CSV.gz or zipped CSV).

    ``source`` is a local path or a binary file object (a non-seekable one, such as an S3 body, is
    first copied to a temporary file); ``name`` is what messages call it (default: the path).
    Reads only the header (CSV) or the footer (Parquet).
    """
    data = Source.from_argument(source, name)
    try:
        container = data.container()
    except OSError as error:
        raise BillingFileError(data.name, f"cannot open the file ({error})") from error
    if container == PARQUET:
        header, total_rows = parquet_schema(data)
    else:
        header, total_rows = csv_header(data, container), None
    checks.single_format(header, data.name)
    detected = detect_format(header)
    if detected is None:
        checks.cost_column_present(header, data.name)
        shown = ", ".join(header[:8]) + (", …" if len(header) > 8 else "")
        raise BillingFileError(
            data.name, f"not a FOCUS, CUR 2.0 or legacy CUR export (no BilledCost or unblended cost column): {shown}"
        )
    billing_format, version = detected
    names = unique_names(header)
    if billing_format is BillingFormat.FOCUS:
        plan = focus.column_plan(header, names, data.name)
    else:
        plan = cur.column_plan(header, names, billing_format, data.name)
    return BillingFile(
        path=data.name,
        format=billing_format,
        version=version,
        total_rows=total_rows,
        ignored_columns=checks.ignored_columns(header, billing_format),
        _source=data,
        _container=container,
        _header=header,
        _plan=plan,
    )
