"""Inventory per account and region: GPU facts, owning team, idempotent, gone rather than deleted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from capacity.models import CollectionRun, InstanceTypeInfo, Resource
from capacity.services.inventory import inventory_collect

from .conftest import ML_PROD, ML_RESEARCH, NOW, REGION, client_factory

pytestmark = pytest.mark.django_db


def _collect(account, **kwargs):
    return inventory_collect(
        account=account, region=REGION, client_factory=client_factory(account.account_id), now=NOW, **kwargs
    )


def _snapshot(account) -> list[tuple]:
    fields = ("kind", "resource_id", "name", "instance_type", "instance_count", "state", "tags", "team_id",
              "type_info_id", "billable_seconds", "details", "first_seen", "gone_at")  # fmt: skip
    return list(Resource.objects.filter(account=account).order_by("resource_id").values_list(*fields))


def test_it_stores_every_kind_with_gpu_facts_and_owning_team(fleet, accounts, teams, catalogue):
    run = _collect(accounts["ml-research"])
    assert (run.status, run.error) == (CollectionRun.Status.SUCCEEDED, "")
    stored = {resource.name: resource for resource in Resource.objects.filter(account=accounts["ml-research"])}
    p4d = stored["vision-train-p4d-0"]
    assert (p4d.kind, p4d.instance_type, p4d.state, p4d.team) == (
        "ec2_instance",
        "p4d.24xlarge",
        "running",
        teams["vision"],
    )
    assert (p4d.type_info.gpu_count, p4d.type_info.gpu_model, p4d.type_info.gpu_memory_mib) == (8, "A100", 327680)
    assert stored["scratch-g5"].team is None, "untagged: no owner"
    notebook = stored["speech-asr-notebook"]
    assert (notebook.kind, notebook.type_info.instance_type, notebook.team) == (
        "sagemaker_notebook",
        "g5.xlarge",
        teams["speech"],
    )
    job = next(r for r in catalogue.resources if r.kind == "sagemaker_training_job" and r.tags["team"] == "vision")
    training = Resource.objects.get(resource_id=job.id)
    assert (training.instance_type, training.instance_count, training.state) == ("ml.p4d.24xlarge", 2, "Completed")
    assert training.billable_seconds == int((job.stop - job.start).days * job.hours_per_day * 3600)
    assert (training.details["model"], training.details["model_version"]) == (
        job.tags["model"],
        job.tags["model_version"],
    )
    jobs = [r for r in catalogue.resources if r.kind == "sagemaker_training_job"]
    assert Resource.objects.filter(kind="sagemaker_training_job").count() == len(jobs)

    _collect(accounts["ml-prod"])
    endpoint = Resource.objects.get(account=accounts["ml-prod"], name="resnet-tagger-prod")
    assert (endpoint.instance_type, endpoint.instance_count, endpoint.team) == ("ml.g5.xlarge", 2, teams["vision"])
    assert [(v["name"], v["instance_type"], v["instance_count"]) for v in endpoint.details["variants"]] == [
        ("primary", "ml.g5.xlarge", 1),
        ("canary", "ml.g5.xlarge", 1),
    ]
    inf2 = InstanceTypeInfo.objects.get(instance_type="inf2.xlarge")
    assert (inf2.accelerator_kind, inf2.gpu_model, inf2.gpu_count) == ("neuron", "Inferentia2", 1)
    node_group = Resource.objects.get(kind="eks_node_group")
    assert (node_group.name, node_group.instance_count, node_group.details["cluster"]) == (
        "recsys-inf2",
        1,
        "ml-inference",
    )

    _collect(accounts["platform"])
    group = Resource.objects.get(kind="auto_scaling_group")
    assert (group.name, group.instance_type, group.instance_count, group.team) == (
        "gitlab-runners",
        "c6i.xlarge",
        1,
        teams["platform"],
    )


def test_it_changes_nothing_on_a_second_run_and_describes_finished_jobs_once(fleet, accounts, teams):
    first = _collect(accounts["ml-research"])
    before = _snapshot(accounts["ml-research"])
    second = inventory_collect(
        account=accounts["ml-research"],
        region=REGION,
        client_factory=client_factory(ML_RESEARCH),
        now=NOW + timedelta(hours=1),
    )
    assert _snapshot(accounts["ml-research"]) == before
    assert (second.counts["created"], second.counts["updated"], second.counts["gone"]) == (0, 0, 0)
    assert second.requests < first.requests - 40, "finished training jobs are listed, not described again"
    assert set(Resource.objects.values_list("last_seen", flat=True)) == {NOW + timedelta(hours=1)}


def test_it_marks_terminated_and_deleted_resources_gone_without_deleting_them(fleet, accounts, teams):
    _collect(accounts["ml-prod"])
    clients = client_factory(ML_PROD)
    instance = Resource.objects.get(kind="ec2_instance", account=accounts["ml-prod"])
    clients("ec2").terminate_instances(InstanceIds=[instance.resource_id])
    clients("sagemaker").delete_endpoint(EndpointName="two-tower-staging")
    later = NOW + timedelta(hours=2)
    run = inventory_collect(account=accounts["ml-prod"], region=REGION, client_factory=clients, now=later)
    assert run.counts["gone"] == 2
    instance.refresh_from_db()
    assert (instance.state, instance.gone_at) == ("terminated", later)
    endpoint = Resource.objects.get(name="two-tower-staging")
    assert endpoint.gone_at == later and endpoint.last_seen == NOW
    assert Resource.objects.filter(account=accounts["ml-prod"], gone_at__isnull=True).count() == 3
    inventory_collect(
        account=accounts["ml-prod"], region=REGION, client_factory=clients, now=later + timedelta(hours=1)
    )
    assert Resource.objects.get(name="two-tower-staging").gone_at == later, "gone keeps the first time it was seen gone"


def test_it_keeps_the_stored_inventory_when_aws_fails(fleet, accounts, teams):
    _collect(accounts["ml-prod"])
    before = _snapshot(accounts["ml-prod"])

    def failing(service):
        client = client_factory(ML_PROD)(service)
        if service == "sagemaker":

            def deny(**kwargs):
                # Not a denial (that fails only its part: tests/config/test_iam_policy.py): AWS itself failing.
                raise ClientError({"Error": {"Code": "InternalFailure", "Message": "no"}}, "ListEndpoints")

            client.list_endpoints = deny
        return client

    with pytest.raises(ClientError):
        inventory_collect(
            account=accounts["ml-prod"], region=REGION, client_factory=failing, now=NOW + timedelta(hours=1)
        )
    assert _snapshot(accounts["ml-prod"]) == before
    failed = CollectionRun.objects.get(status=CollectionRun.Status.FAILED)
    assert "InternalFailure" in failed.error
