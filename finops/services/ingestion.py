"""Ingestion requests: record a queued run, hand it to the `ingest` queue, execute it at most once."""

from __future__ import annotations

from celery import current_app
from django.db import transaction
from django.utils import timezone

from finops.models import CloudAccount, IngestionRun
from finops.services.cost_explorer import cost_explorer_ingest
from finops.services.export_ingestion import export_child_execute, export_run_fan_out, is_export_child


class IngestionRequestError(ValueError):
    pass


@transaction.atomic
def ingestion_request(*, account: CloudAccount, source: str) -> IngestionRun:
    """Queue one ingestion of `source` for `account`; the run's id is returned at once."""
    if source == IngestionRun.Source.COST_EXPLORER and not account.cost_explorer_enabled:
        raise IngestionRequestError(f"Cost Explorer ingestion is off for account {account.account_id}.")
    if source == IngestionRun.Source.EXPORT and not (account.exports_enabled and account.export_s3_uri):
        raise IngestionRequestError(f"Account {account.account_id} has no data export configured (export_s3_uri).")
    run = IngestionRun.objects.create(account=account, source=source, status=IngestionRun.Status.QUEUED)
    # Named by the task's registered name: tasks import services, never the other way round. The name's entry in
    # CELERY_TASK_ROUTES puts it on the ingest queue; a signature (unlike send_task) honours
    # CELERY_TASK_ALWAYS_EAGER. After the commit, so that the worker finds the run.
    task = current_app.signature("finops.tasks.ingestion_run_execute", args=[run.pk])
    transaction.on_commit(task.apply_async)
    return run


def ingestion_runs_request_all() -> list[IngestionRun]:
    """One run per enabled source of every account (the periodic schedule)."""
    runs: list[IngestionRun] = []
    for account in CloudAccount.objects.all():
        if account.cost_explorer_enabled and account.payer_id is None:
            runs.append(ingestion_request(account=account, source=IngestionRun.Source.COST_EXPLORER))
        if account.exports_enabled and account.export_s3_uri:
            runs.append(ingestion_request(account=account, source=IngestionRun.Source.EXPORT))
    return runs


def ingestion_run_execute(*, run_id: int) -> IngestionRun | None:
    """Run a queued ingestion. A run that is no longer queued (done, or taken by another worker) is left alone; an
    export run fans out into one run per billing period (finops.services.export_ingestion), which a redelivery of a
    lost worker's task takes over."""
    run = IngestionRun.objects.filter(pk=run_id).first()
    if run is not None and is_export_child(run):
        return export_child_execute(run_id=run_id)
    with transaction.atomic():
        run = IngestionRun.objects.select_for_update(skip_locked=True).filter(pk=run_id).first()
        if run is None or run.status != IngestionRun.Status.QUEUED:
            return run
        run.status, run.started_at = IngestionRun.Status.RUNNING, timezone.now()
        run.save(update_fields=["status", "started_at"])
    if run.source == IngestionRun.Source.EXPORT:
        return export_run_fan_out(run=run)
    return cost_explorer_ingest(account=run.account, run=run)
