"""The writing half of billing imports: normalised batches into CostRecord with COPY, in the caller's transaction.

Rows are keyed by their content (`line_key`: a hash plus its occurrence among identical lines), so a
re-import keeps identical lines untouched and deletes / inserts exactly the ones that changed. Scopes
(source format, billing account, billing period) the database has not seen go straight in with COPY;
scopes that exist are staged in a temporary table and merged by key (`staging_merge`). Each batch is
prepared (hashed, encoded as CSV) in a worker thread while the one before is copied (`batches_ahead`).
finops.services.billing_import reads the files and runs these steps in one transaction.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from django.db import OperationalError, transaction

from finops import partitions
from finops.importers import NORMALISED_COLUMNS
from finops.models import CostRecord, ExportDailyTotal, IngestionRun
from finops.reports import MONEY_CONTEXT

TABLE = CostRecord._meta.db_table
STAGING = "costplane_staging"  # the temporary table rows of stored scopes are staged in, dropped at commit
# Columns written by COPY, in order: ours, then the importer's normalised columns (FOCUS 1.2 names).
COPY_COLUMNS = ("source", "run_id", "line_key", *NORMALISED_COLUMNS)
ANALYZE_AFTER_ROWS = 100_000


@dataclass
class ImportState:
    """What one import has written so far: the scopes it met (new or already stored), the line hashes it has seen
    (for occurrence numbers across batches), the accounts it named, its rows and the files' daily totals."""

    run: IngestionRun
    fresh_scopes: set[tuple[str, str, date]] = field(default_factory=set)
    existing_scopes: set[tuple[str, str, date]] = field(default_factory=set)
    staging: bool = False
    # How often each line hash has occurred in earlier batches of this import (uint64 hash → count).
    seen_hashes: pd.Index = field(default_factory=lambda: pd.Index(np.array([], dtype=np.uint64)))
    seen_counts: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    accounts: set[str] = field(default_factory=set)
    rows: int = 0
    # What the files say per (format, billing account, period, sub account, day): summed while streaming.
    daily: dict[tuple, tuple[Decimal, Decimal]] = field(default_factory=dict)
    # Lines each stored scope lost and gained in the merge, {scope: (deleted, inserted)}: billing periods' restatements.
    merged: dict[tuple[str, str, date], tuple[int, int]] = field(default_factory=dict)
    # CostRecord's partitions: {month: table} attached when the import began (read once), and those it created.
    attached: dict[date, str] | None = None

    def partitions_touched(self) -> list[str]:
        """The partition tables of every month this import wrote to."""
        months = {partitions.month_first(period) for _, _, period in self.fresh_scopes | self.existing_scopes}
        return sorted(partitions.partition_name(month) for month in months)


@dataclass
class PreparedBatch:
    """One batch ready for COPY: the scope columns the loader routes rows by, and the rows as CSV."""

    frame: pd.DataFrame
    table: pa.Table
    payload: bytes
    daily: dict[tuple, tuple[Decimal, Decimal]]


def _line_keys(frame: pd.DataFrame, state: ImportState) -> pa.Array:
    """Content hash of each line plus its occurrence number among identical lines of this import.

    `<16 hex digits of the row hash>-<occurrence>`; everything stays in numpy and Arrow, since a
    Python call per row costs more than the COPY itself.
    """
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    codes, distinct = pd.factorize(hashes)
    in_batch = np.bincount(codes, minlength=len(distinct))
    # Occurrence within the batch: the row's rank among the rows sharing its hash (stable order).
    order = np.argsort(codes, kind="stable")
    first_of_code = np.concatenate(([0], np.cumsum(in_batch)[:-1]))
    occurrence = np.empty(len(codes), dtype=np.int64)
    occurrence[order] = np.arange(len(codes)) - first_of_code[codes[order]]
    position = state.seen_hashes.get_indexer(distinct)
    known = position >= 0
    earlier = np.zeros(len(distinct), dtype=np.int64)
    earlier[known] = state.seen_counts[position[known]]
    occurrence += earlier[codes]
    state.seen_counts[position[known]] += in_batch[known]
    state.seen_hashes = state.seen_hashes.append(pd.Index(distinct[~known]))
    state.seen_counts = np.concatenate((state.seen_counts, in_batch[~known]))
    hexes = np.frombuffer(hashes.astype(">u8").tobytes().hex().encode("ascii"), dtype="S16")
    return pc.binary_join_element_wise(
        pa.array(hexes, pa.binary(16)).cast(pa.string()), pc.cast(pa.array(occurrence), pa.string()), "-"
    )


_TAGS_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode


def _tags_json(tags: pd.Series) -> pd.Series:
    if len(tags) and isinstance(tags.iloc[0], str):
        return tags
    # Rows share a few tag sets, yet each row holds its own dict: encode each distinct set once. A
    # dict's repr is a cheap key that never joins two sets with different JSON.
    codes, _ = pd.factorize(np.fromiter(map(repr, tags), dtype=object, count=len(tags)))
    _, first_rows = np.unique(codes, return_index=True)
    encoded = np.array([_TAGS_JSON(tags.iloc[row] or {}) for row in first_rows], dtype=object)
    return pd.Series(encoded[codes], index=tags.index)


def _as_text(values: pd.Series) -> pa.Array:
    """A column as the text COPY reads. Columns repeat a few values (dates, hours, names), so each
    distinct value is formatted once."""
    array = pa.array(values, from_pandas=True)
    if pa.types.is_string(array.type):
        return array
    encoded = pc.dictionary_encode(array)
    return pc.take(pc.cast(encoded.dictionary, pa.string()), encoded.indices)


def batch_prepare(frame: pd.DataFrame, fmt: str, state: ImportState) -> PreparedBatch:
    """One importer batch (NORMALISED_COLUMNS) as COPY-ready CSV with its line keys and daily totals."""
    # Text columns go in as they came: None is NULL, "" the empty string (pyarrow quotes it, COPY keeps it).
    frame = frame.assign(tags=_tags_json(frame["tags"]))
    length = len(frame)
    columns = {
        "source": pa.array(np.full(length, fmt, dtype=object), pa.string()),
        "run_id": pa.array(np.full(length, str(state.run.pk), dtype=object), pa.string()),
        "line_key": _line_keys(frame, state),
    }
    columns.update({name: _as_text(frame[name]) for name in COPY_COLUMNS if name not in columns})
    table = pa.table(columns)
    return PreparedBatch(
        frame=frame[["billing_account_id", "billing_period_start", "sub_account_id"]],
        table=table,
        payload=_csv_bytes(table),
        daily=_daily_totals(frame),
    )


# Wide enough that no sum of NUMERIC(38, 20) values can overflow or round.
_SUM_TYPE = pa.decimal256(76, 20)


def _daily_totals(frame: pd.DataFrame) -> dict[tuple, tuple[Decimal, Decimal]]:
    """{(billing account, period start, sub account, UTC day): (billed, effective)} of one batch, exact."""
    days = frame["charge_period_start"].dt.tz_convert("UTC").dt.date
    keys = {
        "b": pa.array(frame["billing_account_id"], pa.string()),
        "p": pa.array(frame["billing_period_start"], pa.date32()),
        "s": pa.array(frame["sub_account_id"], pa.string()),
        "d": pa.array(days, pa.date32()),
    }
    try:
        money = {
            "billed": pa.array(frame["billed_cost"], pa.string()).cast(_SUM_TYPE),
            "effective": pa.array(frame["effective_cost"], pa.string()).cast(_SUM_TYPE),
        }
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a value beyond 20 places: sum it in Python
        return _daily_totals_slow(frame, days)
    grouped = (
        pa.table({**keys, **money}).group_by(["b", "p", "s", "d"]).aggregate([("billed", "sum"), ("effective", "sum")])
    )
    return {
        (row["b"], row["p"], row["s"], row["d"]): (row["billed_sum"], row["effective_sum"])
        for row in grouped.to_pylist()
    }


def _daily_totals_slow(frame: pd.DataFrame, days: pd.Series) -> dict[tuple, tuple[Decimal, Decimal]]:
    totals: dict[tuple, tuple[Decimal, Decimal]] = {}
    rows = zip(frame["billing_account_id"], frame["billing_period_start"], frame["sub_account_id"], days,
               frame["billed_cost"], frame["effective_cost"], strict=True)  # fmt: skip
    for account, period, sub, day, billed, effective in rows:
        before = totals.get((account, period, sub, day), (Decimal(0), Decimal(0)))
        totals[(account, period, sub, day)] = (
            MONEY_CONTEXT.add(before[0], Decimal(billed)),
            MONEY_CONTEXT.add(before[1], Decimal(effective or 0)),
        )
    return totals


def _csv_bytes(table: pa.Table) -> bytes:
    """The table as COPY-ready CSV (pyarrow writes it in C++; NULL is an unquoted empty field)."""
    sink = io.BytesIO()
    pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue()


def batches_ahead(items: Iterator[PreparedBatch]) -> Iterator[PreparedBatch]:
    """The items, each computed in a worker thread while the caller handles the one before.

    Reading and preparing a batch is work in this process, COPY is work in the database server: one
    batch ahead, both run at once. Only the worker touches the import state `batch_prepare` updates.
    """
    done = PreparedBatch(frame=pd.DataFrame(), table=pa.table({}), payload=b"", daily={})
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="billing-import") as pool:
        pending = pool.submit(next, items, done)
        while (item := pending.result()) is not done:
            pending = pool.submit(next, items, done)
            yield item


def _copy(cursor, table: str, payload: bytes) -> None:
    columns = ", ".join(COPY_COLUMNS)
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(payload)


def _scope_exists(cursor, scope: tuple[str, str, date], run_id: int) -> bool:
    cursor.execute(
        f"SELECT EXISTS (SELECT 1 FROM {TABLE} WHERE source = %s AND billing_account_id = %s"
        " AND billing_period_start = %s AND (run_id IS NULL OR run_id <> %s))",
        [*scope, run_id],
    )
    return cursor.fetchone()[0]


def _scope_target(cursor, scope: tuple[str, str, date], state: ImportState) -> str:
    """The table a scope's rows are copied into: the staging table for a stored scope, the month's partition (made
    first, finops.partitions.partition_create) for a month that had none, else CostRecord (which routes them)."""
    if scope in state.existing_scopes:
        return STAGING
    month = partitions.month_first(scope[2])
    if state.attached is None:
        state.attached = partitions.partition_months(cursor)
    if month in state.attached:
        return TABLE
    state.attached[month] = partitions.partition_create(month)
    return state.attached[month]


def batch_copy(cursor, prepared: PreparedBatch, fmt: str, state: ImportState) -> None:
    """COPY one prepared batch: rows of new scopes into the table (or, for a month without a partition yet, into the
    month's own table), rows of stored scopes into the staging table."""
    frame = prepared.frame
    pairs = frame[["billing_account_id", "billing_period_start"]].drop_duplicates().itertuples(index=False)
    targets: dict[tuple[str, str, date], str] = {}
    for billing_account_id, period_start in pairs:
        scope = (fmt, billing_account_id, period_start)
        if scope not in state.fresh_scopes and scope not in state.existing_scopes:
            if _scope_exists(cursor, scope, state.run.pk):
                state.existing_scopes.add(scope)
            else:
                state.fresh_scopes.add(scope)
        targets[scope] = _scope_target(cursor, scope, state)
    if STAGING in targets.values() and not state.staging:
        columns = ", ".join(COPY_COLUMNS)
        # An earlier import in the same outer transaction (never committed yet) may have left its own.
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGING}")
        cursor.execute(f"CREATE TEMP TABLE {STAGING} ON COMMIT DROP AS SELECT {columns} FROM {TABLE} WITH NO DATA")
        state.staging = True
    if len(set(targets.values())) == 1:
        _copy(cursor, next(iter(targets.values())), prepared.payload)
    else:
        scope_of_row = zip(frame["billing_account_id"], frame["billing_period_start"], strict=True)
        row_targets = np.array([targets[(fmt, account, period)] for account, period in scope_of_row], dtype=object)
        for target in sorted(set(targets.values())):
            _copy(cursor, target, _csv_bytes(prepared.table.filter(pa.array(row_targets == target))))
    state.accounts.update(frame["billing_account_id"].unique())
    state.accounts.update(frame["sub_account_id"].unique())
    state.rows += len(frame)
    for key, (billed, effective) in prepared.daily.items():
        before = state.daily.get((fmt, *key), (Decimal(0), Decimal(0)))
        state.daily[(fmt, *key)] = (MONEY_CONTEXT.add(before[0], billed), MONEY_CONTEXT.add(before[1], effective))


_SCOPE = "{alias}.source = %s AND {alias}.billing_account_id = %s AND {alias}.billing_period_start = %s"
_SAME_LINE = (
    "{inner}.source = {outer}.source AND {inner}.billing_account_id = {outer}.billing_account_id"
    " AND {inner}.billing_period_start = {outer}.billing_period_start AND {inner}.line_key = {outer}.line_key"
)


def staging_merge_statements() -> tuple[str, str]:
    """The replace of one stored scope by its staged rows, as (DELETE, INSERT), each taking the scope three times
    as parameters: delete the stored lines the staging table does not hold, insert the staged lines the table
    does not hold. Both are anti-joins over whole scopes, which `staging_prepare` makes PostgreSQL run as one hash
    (or merge) join: linear in the scope's size, never a probe of one table per row of the other."""
    columns = ", ".join(COPY_COLUMNS)
    selected = ", ".join(f"s.{name}" for name in COPY_COLUMNS)
    delete = (
        f"DELETE FROM {TABLE} c WHERE {_SCOPE.format(alias='c')}"
        f" AND NOT EXISTS (SELECT 1 FROM {STAGING} s WHERE {_SAME_LINE.format(inner='s', outer='c')}"
        f" AND {_SCOPE.format(alias='s')})"
    )
    insert = (
        f"INSERT INTO {TABLE} ({columns}) SELECT {selected} FROM {STAGING} s WHERE {_SCOPE.format(alias='s')}"
        f" AND NOT EXISTS (SELECT 1 FROM {TABLE} c WHERE {_SAME_LINE.format(inner='c', outer='s')}"
        f" AND {_SCOPE.format(alias='c')})"
        " ON CONFLICT (source, billing_account_id, billing_period_start, line_key) DO NOTHING"
    )
    return delete, insert


def staging_prepare(cursor) -> str:
    """Make the merge's anti-joins linear: statistics for the staged rows (a temporary table is never analysed by
    autovacuum, and without them PostgreSQL expects a handful of rows and plans a nested loop that scans the staging
    table once per stored line: quadratic in the month's size), and no nested loops for the rest of the
    merge, so that a stale estimate cannot bring one back. Returns the setting `staging_finish` restores."""
    cursor.execute(f"ANALYZE {STAGING}")
    cursor.execute("SELECT current_setting('enable_nestloop')")
    (before,) = cursor.fetchone()
    cursor.execute("SET LOCAL enable_nestloop = off")
    return before


def staging_finish(cursor, before: str) -> None:
    cursor.execute("SELECT set_config('enable_nestloop', %s, true)", [before])


def staging_merge(cursor, state: ImportState) -> tuple[int, int]:
    """Replace each existing scope by the staged rows, touching only lines whose content changed; returns
    (deleted, inserted). Nothing staged (every scope was new): (0, 0)."""
    deleted = inserted = 0
    if not state.existing_scopes:
        return deleted, inserted
    delete, insert = staging_merge_statements()
    planner = staging_prepare(cursor)
    try:
        for scope in sorted(state.existing_scopes):
            cursor.execute(delete, [*scope, *scope])
            scope_deleted = cursor.rowcount
            cursor.execute(insert, [*scope, *scope])
            state.merged[scope] = (scope_deleted, cursor.rowcount)
            deleted += scope_deleted
            inserted += cursor.rowcount
    finally:
        staging_finish(cursor, planner)
    if state.rows >= ANALYZE_AFTER_ROWS:
        _statistics_refresh(cursor, state)  # the merge's reads of the staged scopes plan better with it
    return deleted, inserted


def _statistics_refresh(cursor, state: ImportState) -> None:
    """ANALYZE the loaded months' partitions after a large load, so that the daily totals read a new scope by a scan.

    Without statistics for a scope the planner expects a handful of rows and walks the natural-key
    index: heap reads in line_key (hash) order, then a sort on disk, several times slower for a large
    file. ANALYZE samples a fixed number of rows, and counts this transaction's. When another session
    holds its lock (a vacuum, a concurrent import), it is skipped rather than waited for.
    """
    cursor.execute("SELECT current_setting('lock_timeout')")
    (lock_timeout,) = cursor.fetchone()
    try:
        with transaction.atomic():
            cursor.execute("SET LOCAL lock_timeout = '200ms'")
            cursor.execute(f"ANALYZE {', '.join(state.partitions_touched())}")
    except OperationalError as error:
        if not isinstance(error.__cause__, psycopg.errors.LockNotAvailable):
            raise
    cursor.execute("SELECT set_config('lock_timeout', %s, true)", [lock_timeout])


def daily_totals_record(cursor, state: ImportState) -> None:
    """What the imported files said each account spent per UTC day (summed while reading), for reconciliation."""
    table = ExportDailyTotal._meta.db_table
    for fmt, billing_account_id, period_start in sorted(state.fresh_scopes | state.existing_scopes):
        cursor.execute(
            f"DELETE FROM {table} WHERE source = %s AND billing_account_id = %s AND billing_period_start = %s",
            [fmt, billing_account_id, period_start],
        )
    rows = [
        (fmt, account, period, sub, day, billed, effective, state.run.pk)
        for (fmt, account, period, sub, day), (billed, effective) in sorted(state.daily.items())
    ]
    cursor.executemany(
        f"INSERT INTO {table} (source, billing_account_id, billing_period_start, sub_account_id, day,"
        " billed_cost, effective_cost, run_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        rows,
    )


def staging_rows_count(cursor, state: ImportState) -> int:
    """Rows staged for existing scopes (the rest went straight in)."""
    if not state.staging:
        return 0
    cursor.execute(f"SELECT count(*) FROM {STAGING}")
    return cursor.fetchone()[0]
