"""The README's IAM policies grant every AWS operation Costplane calls.

Every collection, ingestion and action path runs against the sandbox (moto in-process plus the sandbox's answers)
through the product's client factory, while a `before-parameter-build` handler on every client it makes records
the operations called. Each recorded operation must be allowed by a statement of the README's policy JSON. The
operations the AWS wrappers name must all have been recorded, so a wrapper no path here runs fails the test too.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from fnmatch import fnmatchcase
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from moto import mock_aws

from capacity import tasks as capacity_tasks
from capacity.models import Action, CollectionRun, Recommendation, Resource, TeamSettings
from capacity.services.actions.execute import action_execute
from capacity.services.actions.policy import policy_actions_due
from capacity.services.compute_optimizer import compute_optimizer_collect
from capacity.services.inventory import inventory_collect
from capacity.services.policies import policies_evaluate
from capacity.services.prices import prices_refresh
from capacity.services.quotas import quotas_refresh
from capacity.services.reservations import reservations_refresh
from capacity.services.rightsizing import rightsizing_targets_refresh
from capacity.services.runs import CollectionPartsFailed
from capacity.services.spend_forecast import spend_forecasts_refresh
from capacity.services.utilisation import utilisation_collect
from finops.aws.clients import iam_action
from finops.aws.exports import ExportLocationError
from finops.models import IngestionRun
from finops.services.accounts import member_accounts_discover
from finops.services.anomalies import cost_anomalies_aws_ingest
from finops.services.billing_import import billing_export_import
from finops.services.cost_explorer import cost_explorer_ingest
from sandbox import aws as sandbox_aws
from sandbox.catalogue import ACCOUNTS
from sandbox.errors import AwsError
from sandbox.moto_extensions import moto_extend
from sandbox.server import seed_exports, seed_machines
from tests.capacity.conftest import NOW, REGION, TODAY
from tests.capacity.policies.support import make_policy, utc
from tests.capacity.test_actions import BERLIN_SUNDAY, ENDPOINT_ARN, IN_WINDOW, NO_WAIT, planned
from tests.factories import CloudAccountFactory, TeamFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "costplane-sandbox-exports"

# The modules that call AWS, and the boto3 service each one's client is for.
WRAPPERS = {
    "capacity/aws/autoscaling.py": "autoscaling",
    "capacity/aws/cloudwatch.py": "cloudwatch",
    "capacity/aws/compute_optimizer.py": "compute-optimizer",
    "capacity/aws/ec2.py": "ec2",
    "capacity/aws/eks.py": "eks",
    "capacity/aws/pricing.py": "pricing",
    "capacity/aws/sagemaker.py": "sagemaker",
    "capacity/aws/service_quotas.py": "service-quotas",
    "finops/aws/cost_explorer.py": "ce",
    "finops/aws/exports.py": "s3",
    "finops/services/accounts.py": "organizations",
}


def readme_policy_actions() -> list[str]:
    """Every action an Allow statement of a README policy JSON block names (the trust policy's included)."""
    readme = (ROOT / "README.md").read_text()
    actions: list[str] = []
    for block in re.findall(r"```json\n(.*?)```", readme, flags=re.DOTALL):
        for statement in json.loads(block).get("Statement", []):
            if statement.get("Effect") == "Allow":
                named = statement.get("Action", [])
                actions += [named] if isinstance(named, str) else named
    return actions


def granted(action: str, policy_actions: list[str]) -> bool:
    # IAM matches actions case-insensitively, with * and ? wildcards.
    return any(fnmatchcase(action.lower(), pattern.lower()) for pattern in policy_actions)


def wrapper_operations() -> set[tuple[str, str]]:
    """(service, operation) of every client method a wrapper names, as an attribute or a string (paginators,
    Compute Optimizer's OPERATIONS table). s3's download_fileobj is s3transfer's HeadObject then GetObject."""
    named: set[tuple[str, str]] = set()
    for path, service in WRAPPERS.items():
        mapping = boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
        methods = mapping.meta.method_to_api_mapping
        words = set(re.findall(r"[a-z][a-z0-9_]+", (ROOT / path).read_text()))
        named |= {(service, methods[word]) for word in words & methods.keys()}
        if service == "s3" and "download_fileobj" in words:
            named |= {("s3", "HeadObject"), ("s3", "GetObject")}
    return named


@pytest.fixture
def recorded(monkeypatch) -> set[tuple[str, str]]:
    """(boto3 service name, operation) of every call a client from the factory makes while the test runs."""
    calls: set[tuple[str, str]] = set()
    install = sandbox_aws.install_handlers

    def install_and_record(client, **kwargs):
        install(client, **kwargs)
        service = client.meta.service_model.service_name

        def record(model, **_):
            calls.add((service, model.name))

        client.meta.events.register("before-parameter-build", record, unique_id="test-iam-record")

    monkeypatch.setattr(sandbox_aws, "install_handlers", install_and_record)
    return calls


@pytest.fixture
def simulated(db, settings, monkeypatch):
    """The small sandbox in moto (in-process) behind the client factory: its fleet, accounts and teams."""
    settings.COSTPLANE_AWS = "sandbox"
    settings.COSTPLANE_SANDBOX_ENDPOINT = ""
    monkeypatch.setenv("COSTPLANE_SANDBOX_SIZE", "small")
    monkeypatch.setenv("COSTPLANE_SANDBOX_TODAY", TODAY.isoformat())
    with mock_aws():
        seed_machines(None, "small", TODAY, now=NOW)
        known = {account.name: CloudAccountFactory(account_id=account.id, name=account.name) for account in ACCOUNTS}
        teams = {
            name: TeamFactory(name=name.title(), slug=name, tag_values=[name])
            for name in ("vision", "speech", "recsys", "platform")
        }
        yield known, teams


def run_ingestion(known) -> None:
    payer = known["costplane-management"]
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    seed_exports(s3, size="small", today=TODAY)  # a test client: seeding is not Costplane calling AWS
    billing_export_import(location=f"s3://{BUCKET}/exports/costplane-focus/")
    billing_export_import(location=f"s3://{BUCKET}/exports/costplane-cur2/")
    cost_explorer_ingest(account=payer, start=TODAY - timedelta(days=3), end=TODAY, today=TODAY, sleep=lambda _: None)
    cost_anomalies_aws_ingest(account=payer, today=TODAY)
    member_accounts_discover(payer=payer)


def run_collection(known) -> None:
    for account in known.values():
        inventory_collect(account=account, region=REGION, now=NOW)
        utilisation_collect(account=account, region=REGION, until=NOW)
        quotas_refresh(account=account, region=REGION, now=NOW)
        reservations_refresh(account=account, region=REGION, now=NOW)
        compute_optimizer_collect(account=account, region=REGION, now=NOW)
    prices_refresh(regions=[REGION], instance_types=["p4d.24xlarge", "ml.g5.12xlarge"], today=TODAY)
    rightsizing_targets_refresh(now=NOW)


def run_actions(accounts, teams) -> None:
    for name in ("ml-research", "ml-prod", "platform", "data"):
        accounts[name].dry_run = False
        accounts[name].save()
    for team in ("vision", "recsys"):
        TeamSettings.objects.create(team=teams[team], maintenance_window=BERLIN_SUNDAY)
    moto_extend()  # UpdateEndpoint, which moto lacks
    resizes = [
        planned(accounts["ml-research"], teams["vision"]),
        planned(accounts["ml-prod"], teams["recsys"], resource_type="SageMakerEndpoint", arn=ENDPOINT_ARN,
                current="ml.g5.12xlarge", target="ml.g5.2xlarge"),
    ]  # fmt: skip
    for action in resizes:
        action_execute(action_id=action.pk, now=IN_WINDOW, waits=NO_WAIT)
    operator = UserFactory(username="olga", roles=["operator"])
    night = "off=(*,19);on=(*,7);tz=Europe/Berlin"
    make_policy(operator, accounts, schedule=night, grace_minutes=0)
    make_policy(operator, accounts, name="endpoints", action="endpoint_delete_recreate", resource_kinds=[],
                schedule=night, grace_minutes=0)  # fmt: skip
    make_policy(operator, accounts, name="groups", action="scale_to_zero", resource_kinds=[], tag_filters={},
                accounts=[accounts["platform"], accounts["ml-prod"]], include_prod=True, schedule=night,
                grace_minutes=0)  # fmt: skip
    for instant in (utc(2025, 6, 16, 17, 5), utc(2025, 6, 17, 5, 5)):  # 19:05 and 07:05 in Berlin
        policies_evaluate(now=instant)
        for action_id in policy_actions_due(now=instant):
            action_execute(action_id=action_id, now=instant, waits=NO_WAIT)


def test_the_readme_policies_grant_every_operation_the_code_calls(simulated, recorded):
    known, teams = simulated
    run_ingestion(known)
    run_collection(known)
    spend_forecasts_refresh(today=TODAY)  # GetCostForecast from the management account
    run_actions(known, teams)

    done = Action.objects.filter(state=Action.State.DONE).values_list("resource_type", "kind")
    assert {kind for _, kind in done} >= {"rightsize", "stop", "start", "delete", "recreate", "scale_to_zero"}, list(
        done
    )
    assert Recommendation.objects.filter(source=Recommendation.Source.COMPUTE_OPTIMIZER).exists()
    called = {iam_action(service, operation) for service, operation in recorded}
    assert {
        "compute-optimizer:GetEC2InstanceRecommendations", "compute-optimizer:GetAutoScalingGroupRecommendations",
        "compute-optimizer:GetEBSVolumeRecommendations", "compute-optimizer:GetLambdaFunctionRecommendations",
        "compute-optimizer:GetECSServiceRecommendations", "compute-optimizer:GetRDSDatabaseRecommendations",
        "compute-optimizer:GetIdleRecommendations", "ce:GetCostAndUsage", "s3:ListBucket", "s3:GetObject",
        "cloudwatch:GetMetricData", "ec2:ModifyInstanceAttribute", "sagemaker:UpdateEndpoint",
    } <= called  # fmt: skip
    unexercised = wrapper_operations() - recorded
    assert not unexercised, f"operations the wrappers name that no path here called: {sorted(unexercised)}"
    policy = readme_policy_actions()
    missing = sorted(action for action in called if not granted(action, policy))
    assert not missing, f"the README's IAM policies do not grant: {missing}"


def test_a_wildcard_grants_what_it_matches_and_nothing_else():
    assert granted("ec2:DescribeInstances", ["ec2:Describe*"])
    assert granted("compute-optimizer:GetEBSVolumeRecommendations", ["Compute-Optimizer:GetEBSVolume*"])
    assert not granted("ec2:StopInstances", ["ec2:Describe*", "ec2:Start*"])


def test_the_iam_action_of_an_operation_is_its_name_except_where_iam_names_it_otherwise():
    assert iam_action("compute-optimizer", "GetIdleRecommendations") == "compute-optimizer:GetIdleRecommendations"
    assert iam_action("service-quotas", "ListServiceQuotas") == "servicequotas:ListServiceQuotas"
    assert iam_action("s3", "ListObjectsV2") == "s3:ListBucket"
    assert iam_action("s3", "HeadObject") == "s3:GetObject"


# --- Access denied: the refused part fails, naming the permission; the other parts go on ----------------------


def denying(monkeypatch, service_id: str, operation: str, code: str = "AccessDenied") -> None:
    """Every client from the factory gets `code` (HTTP 403) for `operation`, as AWS answers a role without it."""
    install = sandbox_aws.install_handlers

    def install_and_deny(client, **kwargs):
        install(client, **kwargs)

        def deny(params, **_):
            body = {"Error": {"Code": code, "Message": f"User is not authorized to perform: {operation}"}}
            return AWSResponse(params.get("url", ""), 403, {}, None), body | {"ResponseMetadata": {}}

        client.meta.events.register_first(f"before-call.{service_id}.{operation}", deny, unique_id="test-deny")

    monkeypatch.setattr(sandbox_aws, "install_handlers", install_and_deny)


def denied_answer(operation: str, code: str = "AccessDeniedException"):
    def answer(request, **scope):
        raise AwsError(code, f"User is not authorized to perform: {operation}")

    return answer


def live_recommendations(kind: str) -> set[str]:
    return set(
        Recommendation.objects.filter(source=Recommendation.Source.COMPUTE_OPTIMIZER, kind=kind)
        .exclude(state=Recommendation.State.EXPIRED)
        .values_list("resource_arn", flat=True)
    )


def test_a_refused_compute_optimizer_operation_fails_alone_and_names_the_permission(simulated, monkeypatch):
    known, _ = simulated
    for account in known.values():
        compute_optimizer_collect(account=account, region=REGION, now=NOW)
    idle_before = live_recommendations(Recommendation.Kind.IDLE)
    assert idle_before
    Recommendation.objects.filter(kind=Recommendation.Kind.RIGHTSIZE).delete()
    monkeypatch.setitem(
        sandbox_aws.SCOPED_ANSWERS["compute-optimizer"],
        "GetIdleRecommendations",
        denied_answer("GetIdleRecommendations"),
    )

    results = [compute_optimizer_collect(account=account, region=REGION, now=NOW) for account in known.values()]

    assert {tuple(result["failed"]) for result in results} == {("Idle",)}
    assert results[0]["failed"]["Idle"].startswith(
        "AccessDenied: compute-optimizer:GetIdleRecommendations is not granted to the role"
    )
    assert live_recommendations(Recommendation.Kind.IDLE) == idle_before  # not read is not gone
    assert live_recommendations(Recommendation.Kind.RIGHTSIZE)  # the other operations were read and stored
    with pytest.raises(CollectionPartsFailed, match="compute-optimizer:GetIdleRecommendations is not granted"):
        capacity_tasks.compute_optimizer_ingest(known["ml-research"].pk)


def test_a_refused_inventory_api_fails_its_part_and_the_other_parts_and_collections_go_on(simulated, monkeypatch):
    known, _ = simulated
    platform = known["platform"]
    inventory_collect(account=platform, region=REGION, now=NOW)
    groups = Resource.objects.filter(account=platform, kind=Resource.Kind.AUTO_SCALING_GROUP, gone_at__isnull=True)
    assert groups.exists()
    Resource.objects.filter(account=platform, kind=Resource.Kind.EC2_INSTANCE).delete()
    denying(monkeypatch, "auto-scaling", "DescribeAutoScalingGroups")

    with pytest.raises(CollectionPartsFailed) as failure:
        capacity_tasks.capacity_ingest(platform.pk)

    run = CollectionRun.objects.filter(kind=CollectionRun.Kind.INVENTORY, account=platform).first()
    assert run.status == CollectionRun.Status.FAILED
    assert run.error.startswith(
        "auto_scaling_groups: AccessDenied: autoscaling:DescribeAutoScalingGroups is not granted to the role"
    )
    assert "autoscaling:DescribeAutoScalingGroups" in str(failure.value)
    assert groups.exists()  # kept as stored: AWS did not say it is gone
    assert Resource.objects.filter(account=platform, kind=Resource.Kind.EC2_INSTANCE, gone_at__isnull=True).exists()
    later = CollectionRun.objects.filter(
        account=platform, kind__in=["utilisation", "quotas"], started_at__gt=run.started_at
    )
    assert sorted(later.values_list("kind", "status")) == [("quotas", "succeeded"), ("utilisation", "succeeded")]


def test_a_refused_cost_explorer_call_fails_the_run_naming_the_permission(simulated, monkeypatch):
    known, _ = simulated
    monkeypatch.setitem(sandbox_aws.ANSWERS["cost-explorer"], "GetCostAndUsage", denied_answer("GetCostAndUsage"))

    with pytest.raises(ClientError):
        cost_explorer_ingest(account=known["costplane-management"], start=TODAY - timedelta(days=2), end=TODAY)

    run = IngestionRun.objects.get(source=IngestionRun.Source.COST_EXPLORER)
    assert run.status == IngestionRun.Status.FAILED
    assert run.error.startswith("AccessDenied: ce:GetCostAndUsage is not granted to the role")


def test_a_refused_export_listing_names_the_s3_permission(simulated, monkeypatch):
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    seed_exports(s3, size="small", today=TODAY)
    denying(monkeypatch, "s3", "ListObjectsV2")

    with pytest.raises(ExportLocationError, match=r"AccessDenied: s3:ListBucket is not granted to the role"):
        billing_export_import(location=f"s3://{BUCKET}/exports/costplane-focus/")
