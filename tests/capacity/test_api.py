"""The read-only capacity API: resources with their filters, instance types, prices and quotas."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from capacity.models import InstanceTypeInfo, Price, Resource, ServiceQuota
from capacity.selectors.inventory import gpu_fleet_summary
from tests.factories import CloudAccountFactory, TeamFactory

pytestmark = pytest.mark.django_db
SEEN = datetime(2025, 6, 16, 10, tzinfo=UTC)


@pytest.fixture
def fleet_rows():
    account = CloudAccountFactory(account_id="481516234202")
    vision = TeamFactory(name="Vision", slug="vision")
    a100 = InstanceTypeInfo.objects.create(
        instance_type="p4d.24xlarge",
        vcpus=96,
        memory_mib=1179648,
        accelerator_kind="gpu",
        gpu_count=8,
        gpu_model="A100",
        gpu_manufacturer="NVIDIA",
        gpu_memory_mib=327680,
        fetched_at=SEEN,
    )
    cpu = InstanceTypeInfo.objects.create(instance_type="m6i.2xlarge", vcpus=8, memory_mib=32768, fetched_at=SEEN)

    def resource(resource_id, type_info, **fields):
        return Resource.objects.create(
            account=account,
            region="us-east-1",
            kind="ec2_instance",
            resource_id=resource_id,
            instance_type=type_info.instance_type,
            type_info=type_info,
            first_seen=SEEN,
            last_seen=SEEN,
            **{"state": "running", **fields},
        )

    resource("i-0a", a100, team=vision, tags={"team": "vision"})
    resource("i-0b", cpu)
    resource("i-0c", a100, gone_at=SEEN, state="terminated")
    Price.objects.create(
        service="ec2",
        region="us-east-1",
        instance_type="p4d.24xlarge",
        operating_system="Linux",
        tenancy="Shared",
        hourly_usd=Decimal("32.7726"),
        fetched_on=SEEN.date(),
    )
    Price.objects.create(
        service="ec2",
        region="us-east-1",
        instance_type="x9.huge",
        operating_system="Linux",
        tenancy="Shared",
        missing=True,
        fetched_on=SEEN.date(),
    )
    ServiceQuota.objects.create(
        account=account,
        region="us-east-1",
        service_code="ec2",
        quota_code="L-417A185B",
        name="Running On-Demand P instances",
        value=Decimal(192),
        usage=Decimal(96),
        fetched_at=SEEN,
    )
    return account


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["resource_id"] for item in response.json()["results"]]


def test_it_lists_resources_filtered_by_gpu_team_kind_and_gone(viewer_api, fleet_rows):
    assert _ids(viewer_api.get("/api/v1/resources/")) == ["i-0a", "i-0b", "i-0c"]
    assert _ids(viewer_api.get("/api/v1/resources/", {"gpu": "true", "gone": "false"})) == ["i-0a"]
    assert _ids(viewer_api.get("/api/v1/resources/", {"gpu": "false"})) == ["i-0b"]
    assert _ids(viewer_api.get("/api/v1/resources/", {"team": "vision", "account": "481516234202"})) == ["i-0a"]
    assert _ids(viewer_api.get("/api/v1/resources/", {"gone": "true", "kind": "ec2_instance"})) == ["i-0c"]
    item = viewer_api.get("/api/v1/resources/", {"team": "vision"}).json()["results"][0]
    assert (item["team"], item["gpu"]["gpu_model"], item["gpu"]["gpu_count"]) == ("vision", "A100", 8)


def test_it_lists_instance_types_prices_and_quotas(viewer_api, fleet_rows):
    types = viewer_api.get("/api/v1/instance-types/", {"gpu": "true"}).json()["results"]
    assert [row["instance_type"] for row in types] == ["p4d.24xlarge"]
    assert viewer_api.get("/api/v1/instance-types/p4d.24xlarge/").json()["gpu_memory_mib"] == 327680
    prices = {row["instance_type"]: row for row in viewer_api.get("/api/v1/prices/").json()["results"]}
    assert Decimal(prices["p4d.24xlarge"]["hourly_usd"]) == Decimal("32.7726")
    assert (prices["x9.huge"]["hourly_usd"], prices["x9.huge"]["missing"]) == (None, True)
    quota = viewer_api.get("/api/v1/quotas/", {"account": "481516234202"}).json()["results"][0]
    assert (Decimal(quota["value"]), Decimal(quota["usage"])) == (Decimal(192), Decimal(96))


def test_it_refuses_anonymous_and_roleless_readers(api_client, nobody, fleet_rows):
    assert api_client.get("/api/v1/resources/").status_code == 401
    api_client.force_authenticate(nobody)
    assert api_client.get("/api/v1/resources/").status_code == 403


def test_it_summarises_the_live_gpu_fleet_by_team_and_model(fleet_rows):
    assert gpu_fleet_summary() == [
        {
            "team": "Vision",
            "gpu_model": "A100",
            "accelerator": "gpu",
            "kind": "ec2_instance",
            "resources": 1,
            "instances": 1,
            "gpus": 8,
            "running_gpus": 8,
        },
    ]
