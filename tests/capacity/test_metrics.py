"""/metrics: each named metric carries the value the database holds; only allowed clients may read it."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from capacity.models import Action, Recommendation, Resource, UtilisationHour
from finops.models import Alert, CeleryTaskCount, IngestionRun
from finops.services.billing_import import billing_export_import
from finops.services.task_counts import celery_task_outcome_record
from tests.factories import CloudAccountFactory
from tests.finops.test_billing_import import write_focus

ENDPOINT_ARN = "arn:aws:sagemaker:us-east-1:111111111111:endpoint/fraud-scorer"
SAMPLE = re.compile(r"^(?P<name>[a-z_0-9]+)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(client: Client, **headers) -> dict[str, dict[frozenset, float]]:
    """Parse the Prometheus text format: {metric: {frozenset(labels): value}}; checks HELP and TYPE lines."""
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    metrics: dict[str, dict[frozenset, float]] = {}
    typed: set[str] = set()
    for line in response.content.decode().splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#") or not line:
            continue
        match = SAMPLE.match(line)
        assert match, line
        labels = frozenset(LABEL.findall(match["labels"] or ""))
        metrics.setdefault(match["name"], {})[labels] = float(match["value"])
    assert set(metrics) <= typed
    return metrics


def labels(**values: str) -> frozenset:
    return frozenset(values.items())


@pytest.fixture
def client() -> Client:
    return Client()


def seed_endpoint_costs(tmp_path, account, today: date) -> Decimal:
    """Seven days of a tagged endpoint's billing and its Invocations; returns the expected cost per 1,000."""
    rows = []
    for offset in range(1, 8):
        day = today - timedelta(days=offset)
        period_start = day.replace(day=1)
        period_end = (period_start + timedelta(days=32)).replace(day=1)
        rows.append(
            {
                "BillingAccountId": account.account_id,
                "SubAccountId": account.account_id,
                "BillingPeriodStart": f"{period_start}T00:00:00Z",
                "BillingPeriodEnd": f"{period_end}T00:00:00Z",
                "ChargePeriodStart": f"{day}T00:00:00Z",
                "ChargePeriodEnd": f"{day + timedelta(days=1)}T00:00:00Z",
                "ChargeCategory": "Usage",
                "ServiceName": "Amazon SageMaker",
                "RegionId": "us-east-1",
                "ResourceId": ENDPOINT_ARN,
                "BilledCost": "24.50",
                "EffectiveCost": "24.50",
                "ListCost": "",
                "BillingCurrency": "USD",
                "Tags": json.dumps({"team": "risk", "model": "fraud", "model_version": "v3"}),
            }
        )
    billing_export_import(location=str(write_focus(tmp_path / "focus.csv", rows)))
    now = timezone.now()
    endpoint = Resource.objects.create(
        account=account,
        region="us-east-1",
        kind=Resource.Kind.SAGEMAKER_ENDPOINT,
        resource_id=ENDPOINT_ARN,
        name="fraud-scorer",
        first_seen=now,
        last_seen=now,
    )
    for offset in range(1, 8):
        start = datetime.combine(today - timedelta(days=offset), time.min, tzinfo=UTC)
        for hour in range(24):
            UtilisationHour.objects.create(
                resource=endpoint,
                metric=UtilisationHour.Metric.INVOCATIONS,
                variant="AllTraffic",
                hour=start + timedelta(hours=hour),
                total=Decimal(500),
            )
    return (Decimal("24.50") * 7 * 1000 / (Decimal(500) * 24 * 7)).quantize(Decimal("1e-10"))


@pytest.mark.django_db
def test_it_exposes_each_metric_with_the_value_the_database_holds(client, tmp_path):
    now = timezone.now()
    account = CloudAccountFactory(account_id="111111111111")
    IngestionRun.objects.create(
        account=account, source="cost_explorer", status="succeeded", rows=1200, finished_at=now - timedelta(hours=5)
    )
    IngestionRun.objects.create(
        account=account, source="cost_explorer", status="succeeded", rows=900, finished_at=now - timedelta(hours=2)
    )
    IngestionRun.objects.create(account=account, source="cost_explorer", status="failed", rows=0, finished_at=now)
    IngestionRun.objects.create(
        account=account, source="export", status="succeeded", rows=5000, finished_at=now - timedelta(hours=9)
    )
    for _ in range(3):
        celery_task_outcome_record(task="finops.tasks.worker_heartbeat_record", outcome="success")
    celery_task_outcome_record(task="capacity.tasks.actions_due", outcome="failure")
    for index, (state, savings) in enumerate([("open", "120.50"), ("open", "79.50"), ("rejected", "999")]):
        recommendation = _recommendation(account, index, state, savings, now)
        if state == "rejected":
            continue
        Action.objects.create(
            recommendation=recommendation,
            kind="rightsize",
            state="failed" if index == 0 else "done",
            account=account,
            region="us-east-1",
            resource_type="ec2_instance",
            resource_arn=f"i-{index}",
            created_at=now,
        )
    Alert.objects.create(kind="quota_headroom", key="q1", title="Q", opened_at=now, last_seen_at=now)
    Alert.objects.create(kind="quota_headroom", key="q2", title="Q", opened_at=now, last_seen_at=now)
    Alert.objects.create(
        kind="stale_ingestion", key="a", title="S", opened_at=now, last_seen_at=now, state="resolved", resolved_at=now
    )
    expected_unit_cost = seed_endpoint_costs(tmp_path, account, now.date())

    metrics = scrape(client)

    lag = metrics["costplane_ingestion_lag_seconds"][labels(account="111111111111")]
    assert 2 * 3600 <= lag < 2 * 3600 + 60
    assert metrics["costplane_ingestion_rows"] == {
        labels(account="111111111111", source="cost_explorer"): 900,  # the latest successful run's
        labels(account="111111111111", source="export"): 5000,
    }
    tasks = metrics["costplane_celery_task_total"]
    assert tasks == {
        labels(task="finops.tasks.worker_heartbeat_record", outcome="success"): 3,
        labels(task="capacity.tasks.actions_due", outcome="failure"): 1,
    }
    actions = metrics["costplane_actions"]
    assert actions[labels(state="failed", kind="rightsize")] == 1
    assert actions[labels(state="done", kind="rightsize")] == 1
    assert actions[labels(state="running", kind="rightsize")] == 0
    assert metrics["costplane_recommendations_open"] == {frozenset(): 2}
    assert metrics["costplane_recommendations_open_monthly_savings_usd"] == {frozenset(): 200.0}
    assert metrics["costplane_cost_per_1000_predictions_usd"] == {
        labels(model="fraud", model_version="v3", endpoint="fraud-scorer"): float(expected_unit_cost)
    }
    alerts = metrics["costplane_alerts_open"]
    assert alerts[labels(kind="quota_headroom")] == 2
    assert alerts[labels(kind="stale_ingestion")] == 0
    assert set(alerts) == {labels(kind=kind) for kind in Alert.Kind.values}


def _recommendation(account, index: int, state: str, savings: str, now) -> Recommendation:
    return Recommendation.objects.create(
        **{
            "source": "costplane",
            "kind": "rightsize",
            "state": state,
            "account": account,
            "region": "us-east-1",
            "resource_type": "ec2_instance",
            "resource_arn": f"i-{index}",
            "monthly_savings": Decimal(savings),
            "first_seen": now,
            "last_seen": now,
        }
    )


@pytest.mark.django_db
def test_it_counts_task_outcomes_in_one_row_per_task_and_outcome():
    for _ in range(5):
        celery_task_outcome_record(task="t", outcome="retry")
    assert list(CeleryTaskCount.objects.values_list("task", "outcome", "count")) == [("t", "retry", 5)]
    with pytest.raises(ValueError):
        celery_task_outcome_record(task="t", outcome="maybe")


@pytest.mark.django_db
def test_it_refuses_a_client_outside_the_allowed_addresses(client, settings):
    settings.COSTPLANE_METRICS_ALLOW = ["127.0.0.1", "::1"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403
    settings.COSTPLANE_METRICS_ALLOW = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


@pytest.mark.django_db
def test_it_needs_the_bearer_token_when_one_is_set(client, settings):
    settings.COSTPLANE_METRICS_TOKEN = "s3cret-scrape-token"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic s3cret-scrape-token").status_code == 403
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")
    assert response.status_code == 200
    assert b"# TYPE costplane_alerts_open gauge" in response.content


@pytest.mark.django_db
def test_it_needs_no_sign_in_but_only_reads(client):
    assert client.get("/metrics").status_code == 200
    assert client.post("/metrics").status_code == 405


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_it_counts_the_outcomes_of_tasks_a_real_worker_ran(client):
    from finops.tasks import cost_explorer_ingest, worker_heartbeat_record
    from tests.integration_support import celery_worker, wait_for

    def counted() -> dict[frozenset, float]:
        return scrape(client).get("costplane_celery_task_total", {})

    success = labels(task="finops.tasks.worker_heartbeat_record", outcome="success")
    failure = labels(task="finops.tasks.cost_explorer_ingest", outcome="failure")
    with celery_worker(queues="ingest,compute"):
        worker_heartbeat_record.delay()
        worker_heartbeat_record.delay()
        cost_explorer_ingest.delay(987654321)  # no such account: the task fails
        totals = wait_for(lambda: (found := counted()).get(success) == 2 and failure in found and found, timeout=60)

    assert totals, f"the worker's outcomes never reached /metrics: {counted()}"
    assert totals[success] == 2
    assert totals[failure] == 1


@pytest.mark.django_db
def test_it_ships_a_grafana_dashboard_with_a_panel_for_every_metric():
    from capacity.selectors.monitoring import metric_families
    from tests.integration_support import ROOT

    dashboard = json.loads((ROOT / "docs" / "grafana" / "costplane.json").read_text())
    [variable] = dashboard["templating"]["list"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert all(panel["datasource"]["uid"] == "${datasource}" for panel in dashboard["panels"])
    for family in metric_families():
        assert any(family.name in expression for expression in expressions), family.name
