"""Billing export imports: files, folders or s3:// prefixes into CostRecord, in one transaction.

An import replaces every row that the same source format wrote for the same billing account and
billing period, touching only the lines that changed (finops.services.billing_writer does the
writing: line keys, COPY, staging and merge). Any error rolls the whole import back: what was
stored before stays as it was. Columns a file's format does not define are ignored and named once per file
in the run's ``detail["warnings"]`` (and in its ``detail["files"]`` entry).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from finops.aws.clients import aws_client
from finops.aws.exports import downloaded, export_files
from finops.importers import BillingFile, BillingFileError, BillingFormat, list_billing_files, open_billing_file
from finops.models import CloudAccount, CostDailyRollup, CostRecord, CostTagRollup, ExportDailyTotal, IngestionRun
from finops.models.accounts import account_id_validator
from finops.services.billing_periods import billing_periods_record
from finops.services.billing_writer import (
    ImportState,
    batch_copy,
    batch_prepare,
    batches_ahead,
    daily_totals_record,
    staging_merge,
    staging_rows_count,
)
from finops.services.rollups import rollups_rebuild_scopes
from finops.services.table_statistics import table_statistics_refresh

Progress = Callable[[int, int | None], None]
# What CostRecord's NUMERIC columns hold before the point: a larger number is a bad value naming its row,
# not an overflow from COPY naming nothing.
_MONEY_FIELD = CostRecord._meta.get_field("billed_cost")
_INTEGER_DIGITS = _MONEY_FIELD.max_digits - _MONEY_FIELD.decimal_places


def _ensure_accounts(account_ids: set[str]) -> None:
    for account_id in sorted(account_ids):
        try:
            account_id_validator(account_id)
        except Exception:  # not an AWS account id (another cloud's billing account): nothing to create
            continue
        CloudAccount.objects.get_or_create(account_id=account_id)


def _local_sources(location: str) -> list[Path]:
    path = Path(location)
    if path.is_dir():
        files = list_billing_files(path)
        if not files:
            raise BillingFileError(str(path), "this folder holds no billing files (Parquet, CSV, CSV.gz)")
        return files
    if not path.exists():
        raise BillingFileError(str(path), "no such file or folder")
    return [path]


def _sources(location: str, stack: ExitStack) -> Iterator[tuple[str, Path]]:
    """(name for messages, local path) for each file, downloading S3 objects one at a time."""
    if location.startswith("s3://"):
        client = aws_client("s3")
        for s3_object in export_files(client, location):
            yield s3_object.uri, stack.enter_context(downloaded(client, s3_object))
    else:
        for path in _local_sources(location):
            yield str(path), path


def billing_export_import(
    *,
    location: str,
    default_account_id: str | None = None,
    progress: Progress | None = None,
    batch_rows: int = 100_000,
    run: IngestionRun | None = None,
) -> IngestionRun:
    """Import a billing file, a folder of them, or an s3:// export prefix. Raises on bad input.

    `run`, when given, is a queued IngestionRun to record this import in (the API's ingest command).
    """
    if default_account_id is not None:
        account_id_validator(default_account_id)
    source = IngestionRun.Source.EXPORT if location.startswith("s3://") else IngestionRun.Source.FILE
    if run is None:
        run = IngestionRun(source=source)
    run.status, run.location, run.started_at = IngestionRun.Status.RUNNING, location, timezone.now()
    run.save()
    state = ImportState(run=run)
    started = time.monotonic()
    files: list[dict] = []
    warnings: list[str] = []
    current: str | None = None  # the file being read, so that any error names it
    # Scopes delivered by a file without an invoice id column (FOCUS before 1.2): they become final by age.
    scopes_without_invoice_column: set[tuple[str, str, object]] = set()
    try:
        with transaction.atomic(), connection.cursor() as cursor, ExitStack() as stack:
            # A bulk load defers more of the tags GIN index's work to its pending list (merged by
            # autovacuum) instead of merging it into the index every 4 MB; WAL flush waits at commit only.
            cursor.execute("SET LOCAL gin_pending_list_limit = '64MB'")
            cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute("SELECT set_config('work_mem', %s, true)", [settings.COSTPLANE_IMPORT_WORK_MEM])
            for name, path in _sources(location, stack):
                current = name
                billing_file = open_billing_file(path, name=name)
                before, fmt = state.rows, billing_file.format.value
                batches = billing_file.batches(
                    default_account_id=default_account_id, batch_rows=batch_rows, max_integer_digits=_INTEGER_DIGITS
                )
                with closing(batches_ahead(batch_prepare(batch, fmt, state) for batch in batches)) as prepared_batches:
                    for prepared in prepared_batches:
                        batch_copy(cursor, prepared, fmt, state)
                        if _without_invoice_column(billing_file):
                            scopes_without_invoice_column.update(_batch_scopes(prepared.frame, fmt))
                    if progress:
                        progress(state.rows - before, billing_file.total_rows)
                files.append(
                    {
                        "file": name,
                        "format": billing_file.format.value,
                        "rows": state.rows - before,
                        "ignored_columns": list(billing_file.ignored_columns),
                    }
                )
                warnings.extend(_ignored_columns_warnings(name, billing_file))
                current = None
            deleted, inserted = staging_merge(cursor, state)
            # The rollup of every scope whose lines changed (an unchanged re-delivery leaves its rows as they are).
            rollups_rebuild_scopes(
                cursor,
                {scope for scope in state.fresh_scopes | state.existing_scopes if state.merged.get(scope) != (0, 0)},
            )
            daily_totals_record(cursor, state)
            restatements = billing_periods_record(
                scopes=state.fresh_scopes | state.existing_scopes,
                merged=state.merged,
                scopes_without_invoice_column=scopes_without_invoice_column,
                run=run,
            )
            _ensure_accounts(state.accounts)
            fresh_rows = state.rows - staging_rows_count(cursor, state)
            run.rows = state.rows
            run.rows_inserted = fresh_rows + inserted
            run.rows_deleted = deleted
            run.detail = {
                "files": files,
                "periods": _periods(state),
                "seconds": round(time.monotonic() - started, 3),
                "warnings": warnings,
                "restatements": [restatement.pk for restatement in restatements],
            }
            run.status = IngestionRun.Status.SUCCEEDED
            run.finished_at = timezone.now()
            run.save()
            rollups = [CostDailyRollup, CostTagRollup]
            table_statistics_refresh(tables=[*state.partitions_touched(), ExportDailyTotal, *rollups])
    except Exception as error:
        IngestionRun.objects.filter(pk=run.pk).update(
            status=IngestionRun.Status.FAILED,
            error=str(error) if isinstance(error, BillingFileError) or current is None else f"{current}: {error}",
            finished_at=timezone.now(),
            detail={"files": files},
        )
        raise
    return run


def _without_invoice_column(billing_file: BillingFile) -> bool:
    """FOCUS before 1.2 has no InvoiceId: its periods become final by age (CUR always has bill_invoice_id)."""
    return billing_file.format is BillingFormat.FOCUS and billing_file.version != "1.2"


def _batch_scopes(frame, fmt: str) -> set[tuple[str, str, object]]:
    pairs = frame[["billing_account_id", "billing_period_start"]].drop_duplicates().itertuples(index=False)
    return {(fmt, account, period) for account, period in pairs}


def _ignored_columns_warnings(name: str, billing_file: BillingFile) -> list[str]:
    """One line per file (not per row or batch) naming the columns its format does not define."""
    columns = billing_file.ignored_columns
    if not columns:
        return []
    shown = ", ".join(repr(column) for column in columns)
    kind = "FOCUS version" if billing_file.format is BillingFormat.FOCUS else "CUR column family"
    noun = "the column" if len(columns) == 1 else "the columns"
    return [f"{name}: ignored {noun} {shown}, which no {kind} defines"]


def _periods(state: ImportState) -> list[dict]:
    return [
        {"format": fmt, "billing_account_id": account, "billing_period_start": period.isoformat()}
        for fmt, account, period in sorted(state.fresh_scopes | state.existing_scopes)
    ]
