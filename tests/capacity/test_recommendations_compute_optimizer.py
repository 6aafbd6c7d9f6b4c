"""Compute Optimizer ingestion: paginated reads checked by Stubber, and the sandbox's answers end to end."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import boto3
import pytest
from botocore.stub import Stubber

from capacity.models import Recommendation
from capacity.services.compute_optimizer import compute_optimizer_collect
from capacity.services.inventory import inventory_collect
from tests.factories import CloudAccountFactory, TeamFactory

from .conftest import ML_RESEARCH, NOW, REGION, TODAY, client_factory

pytestmark = pytest.mark.django_db
ACCOUNT = "481516234299"
REFRESHED = datetime(2025, 6, 15, tzinfo=UTC)
ARN = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0aaa"


def _money(value):
    return {"currency": "USD", "value": value}


def _ec2(instance_id: str, finding: str = "Overprovisioned", **fields) -> dict:
    gpu = {"gpus": [{"gpuCount": 4, "gpuMemorySizeInMiB": 24576}]}
    return {
        "instanceArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{instance_id}",
        "accountId": ACCOUNT,
        "instanceName": f"box-{instance_id}",
        "currentInstanceType": "g5.12xlarge",
        "finding": finding,
        "findingReasonCodes": ["GPUOverprovisioned", "GPUMemoryOverprovisioned"],
        "utilizationMetrics": [{"name": "GPU_PERCENTAGE", "statistic": "Maximum", "value": 12.5}],
        "lookBackPeriodInDays": 14.0,
        "currentInstanceGpuInfo": gpu,
        "recommendationOptions": [
            {
                "instanceType": "g5.2xlarge", "rank": 2, "performanceRisk": 2.0,
                "savingsOpportunity": {"savingsOpportunityPercentage": 78.0, "estimatedMonthlySavings": _money(3200.5)},
                "instanceGpuInfo": {"gpus": [{"gpuCount": 1, "gpuMemorySizeInMiB": 24576}]},
            },
            {
                "instanceType": "g5.xlarge", "rank": 1, "performanceRisk": 1.0,
                "savingsOpportunity": {"savingsOpportunityPercentage": 82.3, "estimatedMonthlySavings": _money(3406.2)},
                "savingsOpportunityAfterDiscounts": {
                    "savingsOpportunityPercentage": 60.1, "estimatedMonthlySavings": _money(2452.46),
                },
                "migrationEffort": "Low",
            },
        ],
        "lastRefreshTimestamp": REFRESHED,
        "currentPerformanceRisk": "VeryLow",
        "tags": [{"key": "team", "value": "vision"}],
        **fields,
    }  # fmt: skip


def _idle_endpoint() -> dict:
    return {
        "resourceArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/dev-endpoint",
        "resourceId": "dev-endpoint",
        "resourceType": "SageMakerEndpoint",
        "accountId": ACCOUNT,
        "finding": "Idle",
        "findingDescription": "No invocations in 14 days.",
        "savingsOpportunity": {"savingsOpportunityPercentage": 100.0, "estimatedMonthlySavings": _money(1027.84)},
        "lookBackPeriodInDays": 14.0,
        "lastRefreshTimestamp": REFRESHED,
        "tags": [{"key": "team", "value": "vision"}],
    }


EMPTY = [
    ("get_auto_scaling_group_recommendations", {"autoScalingGroupRecommendations": []}),
    ("get_ebs_volume_recommendations", {"volumeRecommendations": []}),
    ("get_lambda_function_recommendations", {"lambdaFunctionRecommendations": []}),
    ("get_ecs_service_recommendations", {"ecsServiceRecommendations": []}),
    ("get_rds_database_recommendations", {"rdsDBRecommendations": []}),
]


def _stubbed(ec2_pages: list[list[dict]], idle: list[dict]):
    client = boto3.client("compute-optimizer", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    for index, items in enumerate(ec2_pages):
        response = {"instanceRecommendations": items}
        if index < len(ec2_pages) - 1:
            response["nextToken"] = f"page-{index + 1}"
        stubber.add_response(
            "get_ec2_instance_recommendations", response, {"nextToken": f"page-{index}"} if index else {}
        )
    for method, response in EMPTY:
        stubber.add_response(method, response, {})
    stubber.add_response("get_idle_recommendations", {"idleRecommendations": idle}, {})
    stubber.activate()
    return client, stubber


def _collect(account, client, now=datetime(2025, 6, 16, tzinfo=UTC)):
    return compute_optimizer_collect(account=account, region=REGION, client_factory=lambda service: client, now=now)


def test_it_follows_next_token_and_stores_findings_options_and_savings_after_discounts():
    account = CloudAccountFactory(account_id=ACCOUNT)
    vision = TeamFactory(slug="vision", tag_values=["vision"])
    client, stubber = _stubbed([[_ec2("i-0aaa")], [_ec2("i-0bbb", finding="Optimized")]], [_idle_endpoint()])
    result = _collect(account, client)
    stubber.assert_no_pending_responses()
    assert result["requests"] == 8 and len(result["created_ids"]) == 2
    gpu = Recommendation.objects.get(kind="rightsize")
    assert (gpu.resource_arn, gpu.finding, gpu.team) == (ARN, "Overprovisioned", vision)
    assert gpu.reason_codes == ["GPUOverprovisioned", "GPUMemoryOverprovisioned"]
    assert (gpu.current_configuration, gpu.recommended_configuration) == ("g5.12xlarge", "g5.xlarge")
    assert gpu.monthly_savings == Decimal("2452.46")  # after discounts, not the public 3406.2
    assert gpu.performance_risk == Decimal("1")
    assert [(option["configuration"], option["savings_basis"]) for option in gpu.options] == [
        ("g5.xlarge", "after_discounts"),
        ("g5.2xlarge", "public"),
    ]
    assert gpu.evidence["current_gpu_info"]["gpus"][0]["gpuCount"] == 4
    idle = Recommendation.objects.get(kind="idle")
    assert (idle.resource_type, idle.finding, idle.monthly_savings) == ("SageMakerEndpoint", "Idle", Decimal("1027.84"))


def test_a_recommendation_aws_stops_returning_expires_and_an_aws_error_changes_nothing():
    account = CloudAccountFactory(account_id=ACCOUNT)
    client, _ = _stubbed([[_ec2("i-0aaa")]], [_idle_endpoint()])
    _collect(account, client)
    client, _ = _stubbed([[]], [_idle_endpoint()])
    result = _collect(account, client, now=datetime(2025, 6, 17, tzinfo=UTC))
    assert result["types"]["Ec2Instance"]["expired"] == 1 and result["types"]["Idle"]["expired"] == 0
    assert dict(Recommendation.objects.values_list("kind", "state")) == {"rightsize": "expired", "idle": "open"}

    failing = boto3.client("compute-optimizer", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(failing)
    stubber.add_client_error("get_ec2_instance_recommendations", "OptInRequiredException", "Not opted in.")
    stubber.activate()
    with pytest.raises(failing.exceptions.OptInRequiredException):
        _collect(account, failing, now=datetime(2025, 6, 18, tzinfo=UTC))
    assert Recommendation.objects.get(kind="idle").state == "open"


@pytest.fixture
def sandbox_environment(monkeypatch):
    monkeypatch.setenv("COSTPLANE_SANDBOX_SIZE", "small")
    monkeypatch.setenv("COSTPLANE_SANDBOX_TODAY", TODAY.isoformat())


def test_the_sandbox_calls_the_unused_gpu_box_overprovisioned_and_the_dev_endpoint_idle(
    sandbox_environment, fleet, accounts, teams
):
    research = accounts["ml-research"]
    inventory_collect(account=research, region=REGION, client_factory=client_factory(ML_RESEARCH), now=NOW)
    result = compute_optimizer_collect(
        account=research, region=REGION, client_factory=client_factory(ML_RESEARCH), now=NOW
    )
    assert result["errors"] == [] and result["requests"] >= 8  # two pages of EC2 at least
    found = {rec.resource.name: rec for rec in Recommendation.objects.select_related("resource", "team")}
    scratch = found["scratch-g5"]
    assert (scratch.finding, scratch.current_configuration, scratch.recommended_configuration) == (
        "Overprovisioned", "g5.12xlarge", "g5.xlarge",
    )  # fmt: skip
    assert "GPUOverprovisioned" in scratch.reason_codes
    assert scratch.monthly_savings == Decimal(
        str(round(float((Decimal("5.672") - Decimal("1.006")) * 730 * 72 / 100), 2))
    )
    dev = found["resnet-tagger-dev"]
    assert (dev.kind, dev.resource_type, dev.team.slug) == ("idle", "SageMakerEndpoint", "vision")
    assert dev.monthly_savings == Decimal("1027.84")  # ml.g5.xlarge 1.408/h x 730 h
    assert "vision-train-p4d-0" not in found  # busy training: Optimized
    again = compute_optimizer_collect(
        account=research, region=REGION, client_factory=client_factory(ML_RESEARCH), now=NOW
    )
    assert again["created_ids"] == [] and Recommendation.objects.filter(state="open").count() == len(found)


def test_an_idle_group_and_a_right_sized_group_are_kept_apart():
    account = CloudAccountFactory(account_id=ACCOUNT)
    idle_group = _idle_endpoint() | {
        "resourceArn": f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:uuid:autoScalingGroupName/batch",
        "resourceId": "batch",
        "resourceType": "AutoScalingGroup",
    }
    for day in (16, 17):
        client, _ = _stubbed([[]], [idle_group])
        _collect(account, client, now=datetime(2025, 6, day, tzinfo=UTC))
    assert list(Recommendation.objects.values_list("kind", "state", "resource_type")) == [
        ("idle", "open", "AutoScalingGroup")
    ]
