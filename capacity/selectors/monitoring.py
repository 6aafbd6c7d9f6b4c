"""What /metrics reports, read from the database at scrape time (selectors; capacity may read finops).

Each function returns one metric family: a name, a type, a help line and its samples (labels, value).
capacity/api/metrics.py renders them in the Prometheus text format.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, OuterRef, Subquery, Sum
from django.utils import timezone

from capacity.models import Action, Recommendation
from capacity.selectors.metering import unit_costs_for_query
from capacity.selectors.recommendations import recommendations_best_per_resource
from finops.models import Alert, CeleryTaskCount, IngestionRun
from finops.reports import ReportQuery
from finops.selectors.ingestion import account_last_success_list

Labels = dict[str, str]


@dataclasses.dataclass(frozen=True)
class MetricFamily:
    name: str
    type: str  # gauge or counter
    help: str
    samples: list[tuple[Labels, Decimal | int | float]]


def ingestion_lag(*, now: datetime) -> MetricFamily:
    """Seconds since each enabled account's last successful ingestion run finished (none yet: no sample)."""
    samples = [
        ({"account": account.account_id}, round((now - account.last_success).total_seconds(), 3))
        for account in account_last_success_list(enabled_only=True)
        if account.last_success is not None
    ]
    return MetricFamily(
        "costplane_ingestion_lag_seconds",
        "gauge",
        "Seconds since the account's last successful billing ingestion run finished.",
        samples,
    )


def ingestion_rows() -> MetricFamily:
    """Rows written by the latest successful run of each account and source."""
    latest = IngestionRun.objects.filter(
        account=OuterRef("account"), source=OuterRef("source"), status=IngestionRun.Status.SUCCEEDED
    ).order_by("-finished_at", "-id")
    runs = (
        IngestionRun.objects.filter(status=IngestionRun.Status.SUCCEEDED, account__isnull=False)
        .filter(pk=Subquery(latest.values("pk")[:1]))
        .select_related("account")
        .order_by("account__account_id", "source")
    )
    return MetricFamily(
        "costplane_ingestion_rows",
        "gauge",
        "Rows written by the latest successful ingestion run of the account and source.",
        [({"account": run.account.account_id, "source": run.source}, run.rows) for run in runs],
    )


def celery_task_totals() -> MetricFamily:
    return MetricFamily(
        "costplane_celery_task_total",
        "counter",
        "Celery task runs by task and outcome (success, failure, retry), counted by every worker.",
        [
            ({"task": row.task, "outcome": row.outcome}, row.count)
            for row in CeleryTaskCount.objects.order_by("task", "outcome")
        ],
    )


def actions_by_state() -> MetricFamily:
    counts = {
        (row["state"], row["kind"]): row["n"]
        for row in Action.objects.order_by().values("state", "kind").annotate(n=Count("id"))
    }
    kinds = [value for value, _ in Action._meta.get_field("kind").choices]
    states = [value for value, _ in Action._meta.get_field("state").choices]
    return MetricFamily(
        "costplane_actions",
        "gauge",
        "Actions by state and kind.",
        [({"state": state, "kind": kind}, counts.get((state, kind), 0)) for state in states for kind in kinds],
    )


def recommendations_open() -> list[MetricFamily]:
    open_recommendations = Recommendation.objects.filter(state=Recommendation.State.OPEN)
    # A resource's open recommendations are alternatives: the savings count the largest one, as the page does.
    totals = {
        "n": open_recommendations.count(),
        "savings": recommendations_best_per_resource(open_recommendations).aggregate(savings=Sum("monthly_savings"))[
            "savings"
        ],
    }
    return [
        MetricFamily("costplane_recommendations_open", "gauge", "Open recommendations.", [({}, totals["n"])]),
        MetricFamily(
            "costplane_recommendations_open_monthly_savings_usd",
            "gauge",
            "Estimated monthly savings of the open recommendations (one per resource, the largest), USD.",
            [({}, totals["savings"] or Decimal(0))],
        ),
    ]


def cost_per_1000_predictions(*, now: datetime) -> MetricFamily:
    """Per served model version and endpoint, over the last complete 7 days (as /api/v1/unit-costs?window=7d)."""
    end = now.date()
    query = ReportQuery(
        start=end - timedelta(days=7), end=end, aggregate=("tag:model", "tag:model_version", "resource")
    )
    _version, _currency, items = unit_costs_for_query(query=query)
    samples = []
    for record in items.to_dict("records"):
        if record["cost_per_1000_predictions"] is None:
            continue
        resource = record["resource"] or ""
        samples.append(
            (
                {
                    "model": record["tag:model"],
                    "model_version": record["tag:model_version"],
                    "endpoint": resource.rsplit("/", 1)[-1],
                },
                record["cost_per_1000_predictions"],
            )
        )
    return MetricFamily(
        "costplane_cost_per_1000_predictions_usd",
        "gauge",
        "Serving cost per 1,000 predictions over the last complete 7 days, per model version and endpoint, USD.",
        samples,
    )


def alerts_open() -> MetricFamily:
    counts = dict(Alert.objects.filter(state=Alert.State.OPEN).order_by().values_list("kind").annotate(n=Count("id")))
    return MetricFamily(
        "costplane_alerts_open",
        "gauge",
        "Open alerts by kind.",
        [({"kind": kind}, counts.get(kind, 0)) for kind in Alert.Kind.values],
    )


def metric_families(*, now: datetime | None = None) -> list[MetricFamily]:
    now = now or timezone.now()
    return [
        ingestion_lag(now=now),
        ingestion_rows(),
        celery_task_totals(),
        actions_by_state(),
        *recommendations_open(),
        cost_per_1000_predictions(now=now),
        alerts_open(),
    ]
