"""Celery wrappers for finops: take ids, call a service. Each task's queue is in config/settings.py
CELERY_TASK_ROUTES, keyed by the task's registered name."""

from __future__ import annotations

import socket

from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from celery import shared_task
from django.conf import settings

from finops.models import CloudAccount
from finops.services import (
    anomalies,
    billing_periods,
    billing_retention,
    core,
    cost_explorer,
    export_ingestion,
    ingestion,
    notifications,
)


@shared_task
def worker_heartbeat_record() -> None:
    core.worker_heartbeat_record(hostname=socket.gethostname())


@shared_task
def ingestion_run_execute(run_id: int) -> None:
    ingestion.ingestion_run_execute(run_id=run_id)


@shared_task
def ingestion_schedule_all() -> None:
    ingestion.ingestion_runs_request_all()


# Only network trouble is worth a retry; AWS errors (denied, invalid) fail the run and the task.
@shared_task(
    autoretry_for=(EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError), retry_backoff=True, max_retries=5
)
def cost_explorer_ingest(account_id: int) -> None:
    account = CloudAccount.objects.get(pk=account_id)
    cost_explorer.cost_explorer_ingest(account=account)


@shared_task
def notifications_retry() -> int:
    """Send failed notifications again; returns how many went through."""
    return notifications.notifications_retry(max_attempts=settings.COSTPLANE_NOTIFY_MAX_ATTEMPTS)


@shared_task
def cost_anomalies_detect(lookback_days: int | None = None) -> int:
    """Detect cost anomalies over the last complete days (a longer look-back fills a new install's history)."""
    return len(anomalies.cost_anomalies_detect(lookback_days=lookback_days))


@shared_task
def cost_anomalies_aws_ingest_all() -> dict[str, int]:
    """Read Cost Anomaly Detection's anomalies for every management account with Cost Explorer enabled."""
    return anomalies.cost_anomalies_aws_ingest_all()


@shared_task
def billing_periods_finalise_by_age() -> int:
    """Mark final the billing periods without invoice ids whose age says so; returns how many."""
    return len(billing_periods.billing_periods_finalise_by_age())


@shared_task
def billing_retention_apply() -> int:
    """Drop the months of billing rows older than COSTPLANE_BILLING_RETENTION_MONTHS; returns how many."""
    return len(billing_retention.billing_retention_apply())


@shared_task
def export_runs_stale_fail() -> int:
    """Fail (and queue again, once) the export imports whose worker was lost; returns how many."""
    return len(export_ingestion.export_runs_stale_fail())
