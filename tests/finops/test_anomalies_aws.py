"""Cost Explorer GetAnomalies: the wrapper's paging (Stubber, which checks requests and responses against
botocore's model), the sandbox's answer (validated the same way by its handler), and ingestion beside ours."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from finops.aws.cost_explorer import RequestCount, anomalies
from finops.models import CostAnomaly
from finops.services.anomalies import cost_anomalies_aws_ingest, cost_anomalies_aws_ingest_all
from sandbox.anomalies import MONITOR_ARN
from sandbox.aws import sandbox_client
from tests.factories import CloudAccountFactory

PAYER = "481516234200"


def anomaly(anomaly_id: str, day: str, impact: float) -> dict:
    return {
        "AnomalyId": anomaly_id,
        "AnomalyStartDate": day,
        "DimensionValue": "Amazon SageMaker",
        "RootCauses": [{"Service": "Amazon SageMaker", "LinkedAccount": "222222222222", "UsageType": "Train"}],
        "AnomalyScore": {"MaxScore": 0.8, "CurrentScore": 0.1},
        "Impact": {
            "MaxImpact": impact,
            "TotalImpact": impact,
            "TotalActualSpend": impact + 10,
            "TotalExpectedSpend": 10.0,
        },
        "MonitorArn": "arn:aws:ce::111111111111:anomalymonitor/abc",
    }


def test_it_follows_next_page_tokens():
    client = boto3.client("ce", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    interval = {"StartDate": "2026-01-01", "EndDate": "2026-03-31"}
    with Stubber(client) as stubber:
        stubber.add_response(
            "get_anomalies", {"Anomalies": [anomaly("a", "2026-03-01", 120.5)], "NextPageToken": "page-2"},
            {"DateInterval": interval},
        )  # fmt: skip
        stubber.add_response(
            "get_anomalies", {"Anomalies": [anomaly("b", "2026-02-01", 80.0)]},
            {"DateInterval": interval, "NextPageToken": "page-2"},
        )  # fmt: skip
        count = RequestCount()
        found = list(anomalies(client, start=date(2026, 1, 1), end=date(2026, 3, 31), count=count))
        stubber.assert_no_pending_responses()
    assert [item["AnomalyId"] for item in found] == ["a", "b"]
    assert count.requests == 2


@pytest.fixture
def sandbox(settings, monkeypatch):
    today = date.today()
    settings.COSTPLANE_AWS = "sandbox"
    settings.COSTPLANE_SANDBOX_ENDPOINT = ""
    monkeypatch.setenv("COSTPLANE_SANDBOX_SIZE", "small")
    monkeypatch.setenv("COSTPLANE_SANDBOX_TODAY", today.isoformat())
    with mock_aws():
        yield today


def test_it_reads_the_sandbox_anomalies_across_pages(sandbox):
    client = sandbox_client("ce", account_id=PAYER, region="us-east-1")
    start = sandbox - timedelta(days=365)
    every = list(anomalies(client, start=start, end=sandbox))
    assert len(every) > 3
    first_page = client.get_anomalies(DateInterval={"StartDate": start.isoformat()}, MaxResults=2)
    assert len(first_page["Anomalies"]) == 2 and first_page["NextPageToken"]
    paged, token = [], None
    while True:
        page = client.get_anomalies(
            DateInterval={"StartDate": start.isoformat(), "EndDate": sandbox.isoformat()}, MaxResults=3,
            **({"NextPageToken": token} if token else {}),
        )  # fmt: skip
        paged += page["Anomalies"]
        token = page.get("NextPageToken")
        if not token:
            break
    assert [item["AnomalyId"] for item in paged] == [item["AnomalyId"] for item in every]
    for item in every:
        assert item["MonitorArn"] == MONITOR_ARN
        assert start.isoformat() <= item["AnomalyStartDate"] <= sandbox.isoformat()
        impact = item["Impact"]
        assert impact["TotalActualSpend"] > impact["TotalExpectedSpend"]
        assert impact["TotalImpact"] >= 100
        assert item["RootCauses"] and item["RootCauses"][0]["Service"] == item["DimensionValue"]
    big = client.get_anomalies(
        DateInterval={"StartDate": start.isoformat()},
        TotalImpact={"NumericOperator": "GREATER_THAN_OR_EQUAL", "StartValue": 1000.0},
    )["Anomalies"]
    assert {item["AnomalyId"] for item in big} == {
        item["AnomalyId"] for item in every if item["Impact"]["TotalImpact"] >= 1000
    }


@pytest.mark.django_db
def test_it_stores_aws_anomalies_as_separate_rows_and_updates_them_in_place(sandbox):
    payer = CloudAccountFactory(account_id=PAYER, name="management")
    CloudAccountFactory(account_id="481516234201", payer=payer)  # a member: its monitors repeat the payer's
    CloudAccountFactory(account_id="999999999999", cost_explorer_enabled=False)
    counts = cost_anomalies_aws_ingest_all(today=sandbox)
    assert set(counts) == {PAYER}
    stored = CostAnomaly.objects.filter(source="aws")
    assert stored.count() == counts[PAYER] > 0
    row = stored.order_by("-impact").first()
    assert row.account == payer and row.dimension == "service" and row.external_id
    assert row.impact == row.actual - row.expected or abs(row.impact - (row.actual - row.expected)) <= Decimal("0.02")
    assert row.contributors["root_causes"]
    cost_anomalies_aws_ingest(account=payer, today=sandbox)
    assert CostAnomaly.objects.filter(source="aws").count() == counts[PAYER]


@pytest.mark.parametrize(
    ("task", "queue"),
    [("finops.tasks.cost_anomalies_detect", "compute"), ("finops.tasks.cost_anomalies_aws_ingest_all", "ingest")],
)
def test_it_schedules_anomaly_work_daily_on_its_queue(task, queue):
    from config.celery import app
    from config.schedules import BEAT_SCHEDULE
    from finops import tasks

    assert getattr(tasks, task.rsplit(".", 1)[1]).name == task
    assert app.amqp.router.route({}, task)["queue"].name == queue
    [schedule] = [entry["schedule"] for entry in BEAT_SCHEDULE.values() if entry["task"] == task]
    assert len(schedule.hour) == 1 and len(schedule.minute) == 1


@pytest.mark.django_db
def test_it_runs_the_detection_task_inline(settings):
    from finops.tasks import cost_anomalies_detect
    from tests.finops.cost_lines import export_lines

    today = date.today()
    lines = [{"day": today - timedelta(days=n), "cost": "100", "usage_type": "Train"} for n in range(1, 70)]
    lines.append({"day": today - timedelta(days=2), "cost": "900", "usage_type": "Train:p5", "resource": "runaway"})
    export_lines(lines)
    assert cost_anomalies_detect.apply(kwargs={"lookback_days": 5}).get() == 2  # its service and its account
    assert set(CostAnomaly.objects.values_list("dimension", "day")) == {
        ("service", today - timedelta(days=2)),
        ("account", today - timedelta(days=2)),
    }
