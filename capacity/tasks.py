"""Celery wrappers for capacity collection and actions: take ids, call a service. Each task's queue is in
config/settings.py CELERY_TASK_ROUTES, keyed by the task's registered name: ingest for collection from AWS, actions
for changes to resources, compute for the rest."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from celery import chain, shared_task
from django.conf import settings
from django.utils import timezone

from capacity.selectors.inventory import inventoried_types
from capacity.selectors.runs import inputs_settled
from capacity.services import alerts as alerts_service
from capacity.services.actions.execute import action_execute
from capacity.services.actions.policy import policy_actions_due
from capacity.services.actions.recovery import actions_lease_sweep
from capacity.services.actions.resize import actions_due as resize_actions_due
from capacity.services.actions.savings import actions_realised_savings_measure
from capacity.services.approvals import recommendations_wake
from capacity.services.collection import capacity_collect
from capacity.services.compute_optimizer import compute_optimizer_collect
from capacity.services.demand import gpu_demand_compute
from capacity.services.forecasts import gpu_demand_forecast_refresh
from capacity.services.policies import policies_evaluate
from capacity.services.prices import prices_refresh
from capacity.services.recommendations import recommendations_announce
from capacity.services.rightsizing import gpu_rightsizing_refresh, rightsizing_targets_refresh
from capacity.services.runs import CollectionPartsFailed
from capacity.services.spend_forecast import spend_forecasts_refresh
from finops.models import CloudAccount
from finops.tasks import cost_anomalies_aws_ingest_all, cost_anomalies_detect

logger = logging.getLogger(__name__)

# Only network trouble is worth a retry; AWS errors (denied, invalid) fail the run and the task.
TRANSIENT = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)


def _regions(account: CloudAccount) -> list[str]:
    return account.regions or [settings.COSTPLANE_AWS_REGION]


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def capacity_ingest(account_id: int) -> None:
    """Inventory, then utilisation and quotas (which read the inventory), for each of the account's regions; one that
    AWS refuses fails (the task too, at the end) and the others still run."""
    account = CloudAccount.objects.get(pk=account_id)
    if failures := capacity_collect(account=account, regions=_regions(account)):
        raise CollectionPartsFailed("; ".join(failures))


@shared_task
def capacity_ingest_all() -> None:
    for account_id in CloudAccount.objects.filter(inventory_enabled=True).values_list("pk", flat=True):
        capacity_ingest.delay(account_id)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def prices_ingest() -> None:
    """The prices of the fleet's types, then the facts and prices of the GPU types right-sizing may move to."""
    regions, instance_types = inventoried_types()
    prices_refresh(regions=regions, instance_types=instance_types)
    rightsizing_targets_refresh()


@shared_task
def gpu_demand_refresh(days: int = 450, horizon_days: int = 180) -> None:
    """Recompute the recent demand days (billing revises them) and refresh the forecasts."""
    today = timezone.now().date()
    gpu_demand_compute(start=today - timedelta(days=days), end=today)
    gpu_demand_forecast_refresh(horizon_days=horizon_days, today=today)


@shared_task
def spend_forecasts_refresh_task() -> int:
    """Forecast monthly effective cost per team and in total, beside AWS's GetCostForecast; returns rows stored."""
    return len(spend_forecasts_refresh())


DERIVE_MAX_WAIT = timedelta(minutes=60)


@shared_task(bind=True, max_retries=None)
def derived_refresh_when_settled(self, since: str) -> str:
    """After a fresh install's first collection (`collect_capacity --then-derive`): wait until the billing imports and
    every account's capacity collection queued at `since` (ISO time) have finished, then queue what is derived from
    them: GPU demand and its forecasts (then alerts), the spend forecast, Compute Optimizer, GPU right-sizing and
    cost anomalies. A fixed delay would race the imports: child import runs queue behind the collections. After
    DERIVE_MAX_WAIT it queues them anyway and says what it was still waiting for."""
    started = datetime.fromisoformat(since)
    settled, waiting = inputs_settled(since=started)
    if not settled and timezone.now() - started < DERIVE_MAX_WAIT:
        raise self.retry(countdown=settings.COSTPLANE_DERIVE_POLL_SECONDS)
    if not settled:
        logger.warning("deriving after %s although still waiting for %s", DERIVE_MAX_WAIT, waiting)
    chain(gpu_demand_refresh.si(), alerts_evaluate.si()).delay()
    spend_forecasts_refresh_task.delay()
    compute_optimizer_ingest_all.delay()
    gpu_rightsizing_compute.apply_async(countdown=60)
    # A new install has no anomaly history yet: look back a month rather than the daily run's few days.
    cost_anomalies_detect.delay(lookback_days=30)
    cost_anomalies_aws_ingest_all.delay()
    return "settled" if settled else f"gave up waiting for {waiting}"


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def compute_optimizer_ingest(account_id: int) -> None:
    """Compute Optimizer's recommendations for each of the account's regions; new big ones are announced. A resource
    type AWS refuses fails alone (the task too, at the end, naming the permission)."""
    account = CloudAccount.objects.get(pk=account_id)
    failures: list[str] = []
    for region in _regions(account):
        result = compute_optimizer_collect(account=account, region=region)
        recommendations_announce(recommendation_ids=result["created_ids"])
        failures += [f"{region} {resource_type}: {message}" for resource_type, message in result["failed"].items()]
    if failures:
        raise CollectionPartsFailed("; ".join(failures))


@shared_task
def compute_optimizer_ingest_all() -> None:
    for account_id in CloudAccount.objects.filter(inventory_enabled=True).values_list("pk", flat=True):
        compute_optimizer_ingest.delay(account_id)


@shared_task
def gpu_rightsizing_compute() -> None:
    result = gpu_rightsizing_refresh()
    # What was skipped and why is the first thing to read when a machine gets no recommendation.
    logger.info("GPU right-sizing: %s recommended, %s skipped", result["recommended"], len(result["skipped"]))
    for item in result["skipped"]:
        logger.info("GPU right-sizing skipped %s (%s): %s", item["resource"], item["resource_id"], item["reason"])
    recommendations_announce(recommendation_ids=result["created_ids"])


@shared_task
def recommendations_snoozes_end() -> None:
    recommendations_wake()


# An action waits for AWS (EC2 stop/start, a SageMaker endpoint update: up to ~30 minutes each way with the
# rollback), so it gets more time than the default 30 minutes. It is never retried: the state machine runs
# each action at most once, and a redelivery (acks_late) finds it `running` and does nothing.
@shared_task(soft_time_limit=80 * 60, time_limit=85 * 60)
def action_execute_task(action_id: int) -> str:
    """Execute one action if its team's maintenance window is open; returns the state it ended in."""
    return action_execute(action_id=action_id).state


@shared_task
def actions_due() -> list[int]:
    """Queue the planned and announced actions whose window is open; announce the planned ones it is not."""
    due = resize_actions_due()
    for action_id in due:
        action_execute_task.delay(action_id)
    return due


@shared_task
def realised_savings_measure() -> int:
    """Measure the realised savings of done actions once a week of billing after the change is in (a read: it
    runs on the compute queue, not behind long resizes)."""
    return actions_realised_savings_measure()


@shared_task
def alerts_evaluate() -> dict:
    """Run every alert source: open, refresh and resolve alerts and notify their channels."""
    return alerts_service.alerts_evaluate()


@shared_task
def policies_run() -> dict:
    """Evaluate every enabled policy (each under its row lock), then queue the policy actions whose grace period is
    over (a read and short writes: it runs on the compute queue; the actions it queues run on the actions queue)."""
    evaluated = policies_evaluate()
    due = policy_actions_due()
    for action_id in due:
        action_execute_task.delay(action_id)
    return {"policies": len(evaluated), "queued": due}


@shared_task
def leases_sweep() -> dict:
    """Resolve running actions whose worker was lost, by looking at AWS (compute queue: it must not wait behind the
    long resizes it is checking on)."""
    return actions_lease_sweep()
