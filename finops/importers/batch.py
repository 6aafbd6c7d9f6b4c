"""What the format readers share: a batch of source columns, the account rule, the output frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from finops.importers.errors import BillingFileError
from finops.importers.schema import NORMALISED_COLUMNS
from finops.importers.values import BatchContext, calendar_months, coalesce, dates, text, text_kept


@dataclass(frozen=True)
class ColumnPlan:
    """Which file columns a format reads: source name → column name in the file, and the tag columns."""

    columns: dict[str, str]
    tag_columns: tuple[tuple[str, str], ...] = ()  # (column name in the file, tag key)

    def file_columns(self) -> list[str]:
        return list(dict.fromkeys([*self.columns.values(), *(name for name, _ in self.tag_columns)]))


@dataclass
class Batch:
    """Source columns of one batch, by source name; absent columns are simply missing."""

    columns: dict[str, pa.Array]
    tags: list[tuple[str, pa.Array]]
    length: int
    context: BatchContext
    default_account_id: str | None = None

    @classmethod
    def from_table(
        cls, table: pa.Table | pa.RecordBatch, plan: ColumnPlan, context: BatchContext, default_account_id: str | None
    ) -> Batch:
        def column(name: str) -> pa.Array:
            values = table.column(name)
            return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values

        return cls(
            columns={source: column(name) for source, name in plan.columns.items()},
            tags=[(key, column(name)) for name, key in plan.tag_columns],
            length=table.num_rows,
            context=context,
            default_account_id=default_account_id,
        )

    def get(self, name: str) -> pa.Array | None:
        return self.columns.get(name)

    def text(self, *names: str) -> np.ndarray | None:
        """Per row, the first non-empty value among the named columns that exist (None if none exist)."""
        return coalesce(*(text(self.columns[name]) for name in names if name in self.columns))

    def kept(self, *names: str) -> np.ndarray | None:
        """Per row, the first non-null value among the named columns that exist, "" kept as a value (FOCUS)."""
        return coalesce(*(text_kept(self.columns[name]) for name in names if name in self.columns))


def accounts(batch: Batch, billing_column: str, sub_column: str) -> tuple[np.ndarray, np.ndarray]:
    """(billing_account_id, sub_account_id): each fills the other's gaps; ``default_account_id`` the rest."""
    billing, sub = batch.text(billing_column), batch.text(sub_column)
    if billing is None and sub is None:
        if batch.default_account_id is None:
            raise BillingFileError(
                batch.context.path,
                f"the file has no account column ({billing_column} or {sub_column}); "
                "pass --account ACCOUNT_ID to say which AWS account it belongs to",
            )
        filled = np.full(batch.length, batch.default_account_id, dtype=object)
        return filled, filled.copy()
    default = None if batch.default_account_id is None else np.full(batch.length, batch.default_account_id, object)
    billing_filled = coalesce(billing, sub, default)
    sub_filled = coalesce(sub, billing, default)
    assert billing_filled is not None and sub_filled is not None
    missing = pd.isna(billing_filled)
    if missing.any():
        column = billing_column if billing is not None else sub_column
        raise batch.context.error(int(np.flatnonzero(missing)[0]), column, "the account id is missing (pass --account)")
    return billing_filled, sub_filled


def billing_periods(
    start: pd.Series | None, end: pd.Series | None, charge_start: pd.Series
) -> tuple[np.ndarray, np.ndarray]:
    """Billing period start and end dates; where the file gives none, the calendar month of the charge."""
    month_start, month_end = calendar_months(charge_start)
    starts = month_start if start is None else coalesce(dates(start), month_start)
    ends = month_end if end is None else coalesce(dates(end), month_end)
    return starts, ends


def frame(values: dict[str, object]) -> pd.DataFrame:
    """The normalised frame: exactly NORMALISED_COLUMNS, in order."""
    return pd.DataFrame({name: values[name] for name in NORMALISED_COLUMNS})
