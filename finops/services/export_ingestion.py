"""Data export runs in parallel: a run fans out into one child run per billing period's file set, and the children
import on any worker at once, each serialised with every other import of its scope by a PostgreSQL advisory lock.

- Fan-out (`export_run_fan_out`): the export's manifests, grouped by billing period folder
  (finops.aws.exports.export_file_sets), become child runs (detail `parent_run`, `billing_period`), one task each.
  The parent shows `progress` and finishes when every child has (`export_run_progress_refresh`): succeeded, or
  failed naming the failed months.
- Scope lock: a child takes, inside its import's transaction, a shared advisory lock on its billing account and an
  exclusive one on (billing account, billing period); a file set whose period its keys do not tell takes the billing
  account's lock exclusively. Imports of different months run at once; two of the same month never do.
- At most once to completion: a child's terminal status is written only under its scope lock, and read again once
  the lock is held. A task redelivered after its worker died (acks_late, reject on worker lost) finds its run
  running, waits for the lock (free once PostgreSQL has rolled the dead worker's transaction back) and takes the run
  over; a delivery of a run already done does nothing.
- A lost import leaves no statement behind: PostgreSQL polls the client's socket during every statement
  (client_connection_check_interval) and cancels one whose client is gone, and statement and idle-in-transaction
  timeouts bound the rest. Each import names itself in pg_stat_activity (application_name `costplane-import ...`).
- Stale runs (`export_runs_stale_fail`, every minute): a running child whose lock has been free for
  COSTPLANE_INGEST_STALE_MINUTES is marked failed and queued again as a new child run, once.
"""

from __future__ import annotations

import hashlib
import os
import socket
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from finops.aws.clients import aws_client
from finops.aws.exports import export_file_sets
from finops.models import CloudAccount, IngestionRun
from finops.services.billing_import import billing_export_import

# PostgreSQL checks that an import's client is still connected this often while a statement runs, and cancels it
# when the client is gone: a SIGKILLed worker's DELETE otherwise runs on for minutes, holding its locks.
CLIENT_CHECK_INTERVAL = "1s"
APPLICATION_NAME_PREFIX = "costplane-import"
_DONE = (IngestionRun.Status.SUCCEEDED, IngestionRun.Status.FAILED)


class ScopeLockError(RuntimeError):
    """An import's files held rows of a billing period whose lock another import holds."""


def billing_account_of(account: CloudAccount) -> str:
    """The billing account an account's exports bill to: its payer's, else its own."""
    return account.payer.account_id if account.payer_id else account.account_id


def scope_lock_key(billing_account_id: str, billing_period: str | None) -> int:
    """The advisory lock key (signed 64-bit) of (billing account, billing period); None: the whole billing account."""
    name = f"costplane-ingest:{billing_account_id}:{billing_period or '*'}"
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def _queue(run: IngestionRun) -> None:
    # By the task's registered name (tasks import services, never the other way round), after the commit.
    transaction.on_commit(current_app.signature("finops.tasks.ingestion_run_execute", args=[run.pk]).apply_async)


def _child_detail(*, parent_id: int, billing_account_id: str, billing_period: str | None) -> dict:
    return {
        "parent_run": parent_id,
        "billing_account_id": billing_account_id,
        "billing_period": billing_period,
        "deliveries": 0,
    }


def is_export_child(run: IngestionRun) -> bool:
    return run.source == IngestionRun.Source.EXPORT and "parent_run" in run.detail


def export_run_fan_out(*, run: IngestionRun) -> IngestionRun:
    """Split a claimed export run into child runs, one per billing period's file set, and queue them."""
    account = run.account
    try:
        file_sets = export_file_sets(aws_client("s3"), account.export_s3_uri)
    except Exception as error:
        IngestionRun.objects.filter(pk=run.pk).update(
            status=IngestionRun.Status.FAILED, error=str(error), finished_at=timezone.now()
        )
        raise
    billing_account_id = billing_account_of(account)
    with transaction.atomic():
        children = [
            IngestionRun.objects.create(
                account=account,
                source=IngestionRun.Source.EXPORT,
                status=IngestionRun.Status.QUEUED,
                location=file_set.location,
                detail=_child_detail(
                    parent_id=run.pk, billing_account_id=billing_account_id, billing_period=file_set.billing_period
                ),
            )
            for file_set in file_sets
        ]
        run.location = account.export_s3_uri
        run.detail = {"children": [child.pk for child in children], "progress": _progress(children)}
        run.save(update_fields=["location", "detail"])
        for child in children:
            _queue(child)
    run.refresh_from_db()
    return run


def _progress(children: list[IngestionRun]) -> dict:
    months: dict[str, list[IngestionRun]] = {}
    for child in children:
        months.setdefault(child.detail.get("billing_period") or "all", []).append(child)
    return {
        "file_sets": len(children),
        "file_sets_done": sum(child.status in _DONE for child in children),
        "months": len(months),
        "months_done": sum(all(child.status in _DONE for child in runs) for runs in months.values()),
        "failed_months": sorted(
            month for month, runs in months.items() if any(c.status == IngestionRun.Status.FAILED for c in runs)
        ),
    }


def export_run_progress_refresh(*, parent_id: int) -> IngestionRun | None:
    """Recount a parent run's children (the current one of each file set: a re-queued child replaces the stale
    one); once all are done the parent succeeds, or fails naming the failed months."""
    with transaction.atomic():
        parent = IngestionRun.objects.select_for_update().filter(pk=parent_id).first()
        if parent is None or parent.status != IngestionRun.Status.RUNNING:
            return parent
        children = [
            child
            for child in IngestionRun.objects.filter(pk__in=parent.detail.get("children", [])).order_by("pk")
            if "requeued_as" not in child.detail
        ]
        progress = _progress(children)
        parent.detail = {**parent.detail, "progress": progress}
        if progress["file_sets_done"] == progress["file_sets"]:
            failed = progress["failed_months"]
            parent.status = IngestionRun.Status.FAILED if failed else IngestionRun.Status.SUCCEEDED
            parent.error = f"{len(failed)} of {progress['months']} months failed: {', '.join(failed)}" if failed else ""
            parent.rows = sum(child.rows for child in children)
            parent.rows_inserted = sum(child.rows_inserted for child in children)
            parent.rows_deleted = sum(child.rows_deleted for child in children)
            parent.finished_at = timezone.now()
        parent.save()
    return parent


def _claim(run_id: int) -> IngestionRun | None:
    """Count a delivery of a child run: a queued run starts, a running one (its worker lost) is taken over."""
    with transaction.atomic():
        run = IngestionRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status in _DONE:
            return run
        run.detail = {**run.detail, "deliveries": run.detail.get("deliveries", 0) + 1}
        run.detail.pop("lock_free_since", None)
        run.status, run.started_at = IngestionRun.Status.RUNNING, timezone.now()
        run.save(update_fields=["status", "started_at", "detail"])
    return run


def _session_guard(cursor, run: IngestionRun) -> None:
    """For this transaction: a name that pg_stat_activity shows, and a server that cancels a statement whose client
    went away."""
    name = f"{APPLICATION_NAME_PREFIX} run={run.pk} pid={os.getpid()} host={socket.gethostname()}"[:63]
    cursor.execute("SELECT set_config('application_name', %s, true)", [name])
    cursor.execute("SELECT set_config('client_connection_check_interval', %s, true)", [CLIENT_CHECK_INTERVAL])


def _scope_lock(cursor, run: IngestionRun) -> None:
    """Wait for the run's scope (waiting as long as one statement may take), then hold it until the transaction
    ends. The billing account's lock first, so that no two imports wait for each other in a circle."""
    period = run.detail.get("billing_period")
    billing_account_id = run.detail["billing_account_id"]
    wait = f"{settings.COSTPLANE_INGEST_STATEMENT_TIMEOUT_SECONDS}s"
    cursor.execute("SELECT set_config('lock_timeout', %s, true)", [wait])
    if period is None:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [scope_lock_key(billing_account_id, None)])
    else:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [scope_lock_key(billing_account_id, None)])
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [scope_lock_key(billing_account_id, period)])
    cursor.execute("SELECT set_config('lock_timeout', '0', true)")


def _scope_try_lock(cursor, run: IngestionRun) -> bool:
    """Take the run's scope lock for this transaction if no one holds it; False if someone does."""
    period = run.detail.get("billing_period")
    billing_account_id = run.detail["billing_account_id"]
    if period is None:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [scope_lock_key(billing_account_id, None)])
        return cursor.fetchone()[0]
    cursor.execute(
        "SELECT pg_try_advisory_xact_lock_shared(%s) AND pg_try_advisory_xact_lock(%s)",
        [scope_lock_key(billing_account_id, None), scope_lock_key(billing_account_id, period)],
    )
    return cursor.fetchone()[0]


def _session_timeouts(cursor) -> None:
    cursor.execute(
        "SELECT set_config('statement_timeout', %s, true)", [f"{settings.COSTPLANE_INGEST_STATEMENT_TIMEOUT_SECONDS}s"]
    )
    cursor.execute(
        "SELECT set_config('idle_in_transaction_session_timeout', %s, true)",
        [f"{settings.COSTPLANE_INGEST_IDLE_TIMEOUT_SECONDS}s"],
    )


def _other_periods_lock(cursor, run: IngestionRun) -> None:
    """Rows of a period other than the file set's own (an export that files a month's rows elsewhere) are written
    only if no other import holds that period now."""
    period = run.detail.get("billing_period")
    if period is None:
        return
    for entry in run.detail.get("periods", []):
        other = entry["billing_period_start"][:7]
        if other == period:
            continue
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [scope_lock_key(entry["billing_account_id"], other)])
        if not cursor.fetchone()[0]:
            raise ScopeLockError(
                f"{run.location}: holds rows of billing period {other}, which another import is writing; run it again"
            )


def _import_under_lock(run: IngestionRun) -> tuple[IngestionRun, Exception | None]:
    """The import in one transaction holding the scope lock; a failure the import recorded is committed with it."""
    failure: Exception | None = None
    with transaction.atomic(), connection.cursor() as cursor:
        _session_guard(cursor, run)
        _scope_lock(cursor, run)
        _session_timeouts(cursor)
        current = IngestionRun.objects.get(pk=run.pk)
        if current.status != IngestionRun.Status.RUNNING:  # another delivery finished it while this one waited
            return current, None
        metadata = dict(current.detail)
        try:
            # Its own savepoint: on error its writes roll back and the run is marked failed in this transaction.
            billing_export_import(location=current.location, default_account_id=current.account.account_id, run=current)
        except Exception as error:
            failure = error
        else:
            _other_periods_lock(cursor, current)
            pause = settings.COSTPLANE_INGEST_TEST_PAUSE_SECONDS
            if pause and metadata["deliveries"] == 1:
                cursor.execute("SELECT pg_sleep(%s)", [pause])
        current.refresh_from_db()
        current.detail = {**current.detail, **metadata}  # what the import recorded, and the run's place in its parent
        current.save(update_fields=["detail"])
    return current, failure


def _failure_record(run: IngestionRun, error: Exception) -> None:
    """An import that failed outside its own error handling (its transaction rolled back): failed, under the lock.
    While another import holds the scope (this run's own redelivery, or a later run), the run is left running: the
    stale check fails it if no one takes it over."""
    with transaction.atomic(), connection.cursor() as cursor:
        if _scope_try_lock(cursor, run):
            IngestionRun.objects.filter(pk=run.pk, status=IngestionRun.Status.RUNNING).update(
                status=IngestionRun.Status.FAILED, error=str(error), finished_at=timezone.now()
            )


def export_child_execute(*, run_id: int) -> IngestionRun | None:
    """Import one child run's file set, at most once to completion whatever the number of deliveries."""
    run = _claim(run_id)
    if run is None or run.status in _DONE:
        return run
    try:
        run, failure = _import_under_lock(run)
    except Exception as error:
        _failure_record(run, error)
        export_run_progress_refresh(parent_id=run.detail["parent_run"])
        raise
    export_run_progress_refresh(parent_id=run.detail["parent_run"])
    if failure is not None:
        raise failure
    return run


def _lock_free_since(run: IngestionRun) -> datetime | None:
    value = run.detail.get("lock_free_since")
    return datetime.fromisoformat(value) if value else None


def export_runs_stale_fail(*, now: datetime | None = None) -> list[IngestionRun]:
    """Mark failed the running child runs whose scope lock has been free for COSTPLANE_INGEST_STALE_MINUTES (their
    worker is gone and no redelivery took them over), and queue each again as a new child run, once; returns them.

    A check that finds a running run's lock free records when (`lock_free_since`); one that finds it held, or a
    delivery that takes the run over, clears it. A run whose row is locked is being written by its import: alive.
    """
    now = now or timezone.now()
    stale_after = timedelta(minutes=settings.COSTPLANE_INGEST_STALE_MINUTES)
    running = IngestionRun.objects.filter(
        status=IngestionRun.Status.RUNNING, source=IngestionRun.Source.EXPORT, detail__has_key="parent_run"
    )
    failed: list[IngestionRun] = []
    for run_id in running.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic(), connection.cursor() as cursor:
            run = IngestionRun.objects.select_for_update(skip_locked=True).filter(pk=run_id).first()
            if run is None or run.status != IngestionRun.Status.RUNNING:
                continue
            if not _scope_try_lock(cursor, run):
                if run.detail.pop("lock_free_since", None):
                    run.save(update_fields=["detail"])
                continue
            free_since = _lock_free_since(run)
            if free_since is None:
                run.detail["lock_free_since"] = now.isoformat()
                run.save(update_fields=["detail"])
                continue
            if now - free_since < stale_after:
                continue
            minutes = int((now - free_since).total_seconds() // 60)
            run.status, run.finished_at = IngestionRun.Status.FAILED, now
            run.error = f"its worker was lost: no import has held its scope for {minutes} minutes"
            if "requeue_of" not in run.detail:
                again = _requeue(run)
                run.detail["requeued_as"] = again.pk
                run.error += f"; queued again as run {again.pk}"
            run.save(update_fields=["status", "finished_at", "error", "detail"])
            failed.append(run)
        export_run_progress_refresh(parent_id=run.detail["parent_run"])
    _parents_settle(now=now, stale_after=stale_after)
    return failed


def _parents_settle(*, now: datetime, stale_after: timedelta) -> None:
    """Recount running parents (a worker lost between a child's commit and its recount leaves the parent behind), and
    fail one whose worker was lost before it queued its months."""
    parents = IngestionRun.objects.filter(
        status=IngestionRun.Status.RUNNING, source=IngestionRun.Source.EXPORT
    ).exclude(detail__has_key="parent_run")
    for parent in parents.order_by("pk"):
        if "children" in parent.detail:
            export_run_progress_refresh(parent_id=parent.pk)
        elif parent.started_at and now - parent.started_at >= stale_after:
            IngestionRun.objects.filter(pk=parent.pk, status=IngestionRun.Status.RUNNING).exclude(
                detail__has_key="children"
            ).update(
                status=IngestionRun.Status.FAILED,
                error="its worker was lost before it queued the export's months",
                finished_at=now,
            )


def _requeue(run: IngestionRun) -> IngestionRun:
    parent = IngestionRun.objects.select_for_update().get(pk=run.detail["parent_run"])
    detail = _child_detail(
        parent_id=parent.pk,
        billing_account_id=run.detail["billing_account_id"],
        billing_period=run.detail.get("billing_period"),
    )
    again = IngestionRun.objects.create(
        account=run.account,
        source=IngestionRun.Source.EXPORT,
        status=IngestionRun.Status.QUEUED,
        location=run.location,
        detail={**detail, "requeue_of": run.pk},
    )
    parent.detail = {**parent.detail, "children": [*parent.detail.get("children", []), again.pk]}
    parent.save(update_fields=["detail"])
    _queue(again)
    return again
