"""The sandbox's machines in moto: the catalogue's resources with its ids, in their accounts, with metrics."""

from __future__ import annotations

from datetime import timedelta

from moto import mock_aws

from sandbox.machines import present
from sandbox.server import seed_machines

from .conftest import ML_PROD, ML_RESEARCH, NOW, TODAY, client_factory


def _instances(account_id: str) -> dict[str, dict]:
    ec2 = client_factory(account_id)("ec2")
    return {
        instance["InstanceId"]: instance
        for reservation in ec2.describe_instances()["Reservations"]
        for instance in reservation["Instances"]
    }


def test_it_creates_the_catalogues_instances_with_its_ids_in_their_own_accounts(fleet, catalogue):
    for account_id in (ML_RESEARCH, ML_PROD):
        expected = {
            resource.id: resource
            for resource in catalogue.resources
            if resource.kind == "ec2_instance" and resource.account_id == account_id and present(resource, TODAY)
        }
        instances = _instances(account_id)
        assert set(instances) == set(expected)
        for instance_id, instance in instances.items():
            assert instance["InstanceType"] == expected[instance_id].instance_type
            tags = {tag["Key"]: tag["Value"] for tag in instance["Tags"]}
            assert tags["Name"] == expected[instance_id].name
            assert expected[instance_id].tags.items() <= tags.items()
    assert "p4d.24xlarge" in {instance["InstanceType"] for instance in _instances(ML_RESEARCH).values()}


def test_it_gives_the_same_ids_on_every_start():
    def start() -> list[str]:
        with mock_aws():
            seed_machines(None, "small", TODAY, now=NOW)
            ids = sorted(_instances(ML_RESEARCH))
            sagemaker = client_factory(ML_PROD)("sagemaker")
            return ids + sorted(endpoint["EndpointArn"] for endpoint in sagemaker.list_endpoints()["Endpoints"])

    assert start() == start()


def test_it_runs_gpu_sagemaker_types_moto_rejects_and_records_training_billable_time(fleet, catalogue):
    prod = client_factory(ML_PROD)("sagemaker")
    config = prod.describe_endpoint_config(EndpointConfigName="resnet-tagger-prod")
    assert [(v["VariantName"], v["InstanceType"], v["InitialInstanceCount"]) for v in config["ProductionVariants"]] == [
        ("primary", "ml.g5.xlarge", 1),
        ("canary", "ml.g5.xlarge", 1),
    ]
    assert (
        prod.describe_endpoint_config(EndpointConfigName="whisper-asr-prod")["ProductionVariants"][0]["InstanceType"]
        == "ml.inf2.xlarge"
    )
    research = client_factory(ML_RESEARCH)("sagemaker")
    notebooks = {
        n["NotebookInstanceName"]: n["InstanceType"] for n in research.list_notebook_instances()["NotebookInstances"]
    }
    assert notebooks == {"speech-asr-notebook": "ml.g5.xlarge", "recsys-eda-notebook": "ml.t3.medium"}
    job = next(
        r for r in catalogue.resources if r.kind == "sagemaker_training_job" and r.instance_type == "ml.p4d.24xlarge"
    )
    described = research.describe_training_job(TrainingJobName=job.name)
    assert described["BillableTimeInSeconds"] == int((job.stop - job.start).days * job.hours_per_day * 3600)
    assert described["ResourceConfig"] == {"InstanceType": "ml.p4d.24xlarge", "InstanceCount": 2, "VolumeSizeInGB": 200}
    assert described["TrainingStartTime"].date() == job.start


def test_it_groups_instances_into_auto_scaling_and_eks_node_groups(fleet, catalogue):
    platform = client_factory("481516234203")
    groups = platform("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    runner = next(r for r in catalogue.resources if r.name == "gitlab-runner-0")
    assert [(g["AutoScalingGroupName"], [i["InstanceId"] for i in g["Instances"]]) for g in groups] == [
        ("gitlab-runners", [runner.id])
    ]
    eks = client_factory(ML_PROD)("eks")
    group = eks.describe_nodegroup(clusterName="ml-inference", nodegroupName="recsys-inf2")["nodegroup"]
    assert (group["instanceTypes"], group["scalingConfig"]["desiredSize"]) == (["inf2.xlarge"], 1)


def _invocations(cloudwatch, endpoint: str, variant: str | None) -> dict:
    dimensions = [{"Name": "EndpointName", "Value": endpoint}]
    if variant:
        dimensions.append({"Name": "VariantName", "Value": variant})
    result = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "i",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations", "Dimensions": dimensions},
                    "Period": 3600,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=NOW - timedelta(days=14),
        EndTime=NOW,
    )["MetricDataResults"][0]
    return dict(zip(result["Timestamps"], result["Values"], strict=True))


def test_it_publishes_invocations_per_variant_none_when_idle_and_none_at_weekends(fleet):
    prod = client_factory(ML_PROD)("cloudwatch")
    primary, canary = (
        _invocations(prod, "resnet-tagger-prod", "primary"),
        _invocations(prod, "resnet-tagger-prod", "canary"),
    )
    assert len(primary) == len(canary) == 14 * 24
    assert sum(primary.values()) > 8 * sum(canary.values()) > 0
    weekdays_only = _invocations(prod, "whisper-asr-prod", "AllTraffic")
    assert weekdays_only and all(moment.weekday() < 5 for moment in weekdays_only)
    assert _invocations(client_factory(ML_RESEARCH)("cloudwatch"), "resnet-tagger-dev", "AllTraffic") == {}
    assert _invocations(prod, "resnet-tagger-prod", None) == {}, "AWS publishes Invocations per variant only"
