"""Utilisation from CloudWatch: hourly average and maximum, per variant, missing hours as NULL, incremental."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import boto3
import pytest
from botocore.stub import Stubber

from capacity.aws.cloudwatch import MetricQuery, metric_data
from capacity.models import CollectionRun, Resource, UtilisationHour
from capacity.services.inventory import inventory_collect
from capacity.services.utilisation import utilisation_collect
from sandbox import machines, metrics

from .conftest import ML_PROD, NOW, REGION, client_factory

pytestmark = pytest.mark.django_db


@pytest.fixture
def inventoried(fleet, accounts, teams):
    for name in ("ml-prod", "ml-research"):
        account = accounts[name]
        inventory_collect(account=account, region=REGION, client_factory=client_factory(account.account_id), now=NOW)
    return accounts


def _collect(account, until=NOW):
    return utilisation_collect(
        account=account, region=REGION, until=until, client_factory=client_factory(account.account_id)
    )


def _published(catalogue, name: str) -> dict[tuple[str, str, datetime], dict]:
    """What the sandbox published for a resource: {(metric, variant, hour): StatisticValues}."""
    resource = next(r for r in catalogue.resources if r.name == name)
    data = metrics.metric_data(
        resources=[resource], now=NOW, days=14, running_at=machines.running_at, variants=machines.variants
    )
    published = {}
    for points in data.values():
        for datum in points:
            variant = {d["Name"]: d["Value"] for d in datum["Dimensions"]}.get("VariantName", "")
            published[(datum["MetricName"], variant, datum["Timestamp"])] = datum["StatisticValues"]
    return published


def test_it_stores_hourly_average_and_maximum_of_cpu_gpu_and_gpu_memory(inventoried, catalogue):
    run = _collect(inventoried["ml-research"])
    assert (run.status, run.window_start, run.window_end) == ("succeeded", NOW - timedelta(days=14), NOW)
    p4d = Resource.objects.get(name="vision-train-p4d-0")
    hour = NOW - timedelta(hours=5)
    published = _published(catalogue, "vision-train-p4d-0")
    stored = {row.metric: row for row in UtilisationHour.objects.filter(resource=p4d, hour=hour)}
    assert set(stored) == {"cpu", "gpu", "gpu_memory"}
    cpu = published[("CPUUtilization", "", hour)]
    assert float(stored["cpu"].average) == pytest.approx(cpu["Sum"] / cpu["SampleCount"], abs=1e-6)
    assert float(stored["cpu"].maximum) == pytest.approx(cpu["Maximum"], abs=1e-6)
    used, total = published[("nvidia_smi_memory_used", "", hour)], published[("nvidia_smi_memory_total", "", hour)]
    assert float(stored["gpu_memory"].average) == pytest.approx(100 * used["Sum"] / 60 / (total["Sum"] / 60), abs=1e-5)
    assert 0 < stored["gpu"].average <= stored["gpu"].maximum <= 100
    assert UtilisationHour.objects.filter(resource=p4d, metric="cpu").count() == 14 * 24


def test_it_stores_endpoint_metrics_per_variant_scaled_per_gpu_and_invocations_per_variant(inventoried, catalogue):
    _collect(inventoried["ml-prod"])
    endpoint = Resource.objects.get(name="resnet-tagger-prod")
    invocations = {
        variant: sum(
            row.total
            for row in UtilisationHour.objects.filter(resource=endpoint, metric="invocations", variant=variant)
        )
        for variant in ("primary", "canary")
    }
    assert invocations["primary"] > 8 * invocations["canary"] > 0
    hour = NOW - timedelta(hours=2)
    row = UtilisationHour.objects.get(resource=endpoint, metric="gpu", variant="primary", hour=hour)
    published = _published(catalogue, "resnet-tagger-prod")[("GPUUtilization", "primary", hour)]
    assert float(row.average) == pytest.approx(published["Sum"] / 60 / 1, abs=1e-6)  # ml.g5.xlarge has one GPU
    staging = UtilisationHour.objects.filter(resource__name="two-tower-staging", metric="gpu", average__isnull=False)
    assert staging.exists() and all(row.maximum <= 100 for row in staging), "0-100 x 4 GPUs brought back to 0-100"


def test_it_stores_hours_without_datapoints_as_null_never_zero(inventoried):
    _collect(inventoried["ml-research"])
    _collect(inventoried["ml-prod"])
    idle = UtilisationHour.objects.filter(resource__name="resnet-tagger-dev", metric="invocations")
    assert idle.count() == 14 * 24
    assert set(idle.values_list("average", "maximum", "total")) == {(None, None, None)}
    weekend = UtilisationHour.objects.filter(
        resource__name="whisper-asr-prod", metric="invocations", hour__week_day__in=[1, 7]
    )
    assert weekend.count() == 4 * 24 and not weekend.exclude(total=None).exists()
    stopped = UtilisationHour.objects.filter(resource__name="speech-train-p5-0", metric="cpu")
    nights = [row for row in stopped if not 7 <= row.hour.hour < 19 or row.hour.weekday() >= 5]
    assert nights and all(row.average is None and row.sample_count is None for row in nights)
    assert not UtilisationHour.objects.filter(metric="invocations", total=0).exists()


def test_it_continues_from_the_last_stored_hour_with_data(inventoried):
    account = inventoried["ml-prod"]
    _collect(account)
    later = NOW + timedelta(hours=3)
    run = _collect(account, until=later)
    assert (run.window_start, run.window_end) == (NOW - timedelta(hours=1), later)
    assert run.requests == 1
    fresh = UtilisationHour.objects.filter(resource__account=account, hour__gte=NOW)
    assert fresh.count() == 3 * run.counts["series"] and not fresh.exclude(average=None).exists()
    assert (
        UtilisationHour.objects.filter(resource__account=account, hour=NOW - timedelta(hours=1))
        .exclude(average=None)
        .exists()
    )
    assert CollectionRun.objects.filter(kind="utilisation", status="succeeded").count() == 2


def test_it_finds_no_invocations_by_endpoint_name_alone(fleet):
    query = MetricQuery("e", "AWS/SageMaker", "Invocations", (("EndpointName", "resnet-tagger-prod"),), "Sum")
    cloudwatch = client_factory(ML_PROD)("cloudwatch")
    assert metric_data(cloudwatch, queries=[query], start=NOW - timedelta(days=1), end=NOW) == {"e": {}}


def test_it_sends_at_most_500_queries_a_call_and_follows_next_token():
    queries = [
        MetricQuery(f"q{i}", "AWS/EC2", "CPUUtilization", (("InstanceId", f"i-{i:017x}"),), "Average")
        for i in range(520)
    ]
    start, end = datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 6, 1, 3, tzinfo=UTC)
    client = boto3.client("cloudwatch", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")

    def request(batch, token=None):
        params = {
            "MetricDataQueries": [q.request() for q in batch],
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
            "MaxDatapoints": 2,
        }
        return params | ({"NextToken": token} if token else {})

    def result(query_id, hours):
        stamps = [start + timedelta(hours=h) for h in hours]
        return {"Id": query_id, "Timestamps": stamps, "Values": [float(h) for h in hours], "StatusCode": "Complete"}

    with Stubber(client) as stub:
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [result("q0", [0, 1])], "NextToken": "page-2"},
            request(queries[:500]),
        )
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [result("q0", [2]), result("q499", [0])]},
            request(queries[:500], "page-2"),
        )
        stub.add_response("get_metric_data", {"MetricDataResults": [result("q519", [1])]}, request(queries[500:]))
        values = metric_data(client, queries=queries, start=start, end=end, max_datapoints=2)
        stub.assert_no_pending_responses()
    assert values["q0"] == {start: 0.0, start + timedelta(hours=1): 1.0, start + timedelta(hours=2): 2.0}
    assert values["q499"] == {start: 0.0} and values["q519"] == {start + timedelta(hours=1): 1.0}
    assert values["q1"] == {} and len(values) == 520


def test_it_records_a_failed_run_and_keeps_stored_hours_when_cloudwatch_fails(inventoried):
    account = inventoried["ml-prod"]
    _collect(account)
    stored = UtilisationHour.objects.count()

    def failing(service):
        client = client_factory(ML_PROD)(service)
        stub = Stubber(client)
        stub.add_client_error("get_metric_data", "AccessDenied", "no access")
        stub.activate()
        return client

    with pytest.raises(Exception, match="AccessDenied"):
        utilisation_collect(account=account, region=REGION, until=NOW + timedelta(hours=2), client_factory=failing)
    assert UtilisationHour.objects.count() == stored
    assert CollectionRun.objects.get(kind="utilisation", status="failed").error
    assert Decimal(0) not in set(UtilisationHour.objects.filter(metric="invocations").values_list("total", flat=True))
