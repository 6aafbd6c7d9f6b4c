from __future__ import annotations

import socket

from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from celery import shared_task

from finops.models import CloudAccount
from finops.services import core as services
from finops.services import cost_explorer as cost_explorer_services


@shared_task
def worker_heartbeat_record() -> None:
    services.worker_heartbeat_record(hostname=socket.gethostname())


@shared_task
def ingestion_run_execute(run_id: int) -> None:
    from finops.services.ingestion import ingestion_run_execute as execute

    execute(run_id=run_id)


@shared_task
def ingestion_schedule_all() -> None:
    from finops.services.ingestion import ingestion_runs_request_all

    ingestion_runs_request_all()


# Only network trouble is worth a retry; AWS errors (denied, invalid) fail the run and the task.
@shared_task(
    autoretry_for=(EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError), retry_backoff=True, max_retries=5
)
def cost_explorer_ingest(account_id: int) -> None:
    account = CloudAccount.objects.get(pk=account_id)
    cost_explorer_services.cost_explorer_ingest(account=account)


@shared_task
def notifications_retry() -> int:
    """Send failed notifications again; returns how many went through."""
    from django.conf import settings

    from finops.services.notifications import notifications_retry as retry

    return retry(max_attempts=settings.COSTPLANE_NOTIFY_MAX_ATTEMPTS)


@shared_task
def cost_anomalies_detect(lookback_days: int | None = None) -> int:
    """Detect cost anomalies over the last complete days (a longer look-back fills a new install's history)."""
    from finops.services.anomalies import cost_anomalies_detect as detect

    return len(detect(lookback_days=lookback_days))


@shared_task
def cost_anomalies_aws_ingest_all() -> dict[str, int]:
    """Read Cost Anomaly Detection's anomalies for every management account with Cost Explorer enabled."""
    from finops.services.anomalies import cost_anomalies_aws_ingest_all as ingest

    return ingest()
