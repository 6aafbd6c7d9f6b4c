"""Prices from the Pricing API (found, missing, cached by date) and GPU quotas stored with their usage."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from capacity.models import Price, ServiceQuota
from capacity.services.inventory import inventory_collect
from capacity.services.prices import prices_refresh
from capacity.services.quotas import ec2_quota_code, quotas_refresh, sagemaker_quota_code, sagemaker_quota_name

from .conftest import ML_PROD, ML_RESEARCH, NOW, REGION, client_factory

pytestmark = pytest.mark.django_db
TODAY = date(2025, 6, 16)


def _pricing():
    return client_factory(ML_PROD)("pricing")


def test_it_stores_on_demand_linux_and_sagemaker_component_prices(db):
    run = prices_refresh(
        regions=["us-east-1", "eu-west-1"],
        instance_types=["p4d.24xlarge", "ml.g5.xlarge"],
        client=_pricing(),
        today=TODAY,
    )
    assert run.status == "succeeded"
    linux = Price.objects.get(service="ec2", region="us-east-1", instance_type="p4d.24xlarge")
    assert (linux.hourly_usd, linux.operating_system, linux.missing, linux.fetched_on) == (
        Decimal("32.7726"),
        "Linux",
        False,
        TODAY,
    )
    assert Price.objects.get(service="ec2", region="eu-west-1", instance_type="p4d.24xlarge").hourly_usd == Decimal(
        "36.7053"
    )
    hosting = Price.objects.get(region="us-east-1", instance_type="ml.g5.xlarge", component="Hosting")
    assert hosting.hourly_usd == Decimal("1.408")
    assert Price.objects.get(
        region="us-east-1", instance_type="ml.g5.xlarge", component="Notebook"
    ).hourly_usd == Decimal("1.408")


def test_it_reports_a_price_it_cannot_find_as_missing(db):
    run = prices_refresh(
        regions=["us-east-1"], instance_types=["x9z.huge", "ml.p5.48xlarge"], client=_pricing(), today=TODAY
    )
    assert run.counts == {"looked_up": 4, "found": 1, "missing": 3}
    unknown = Price.objects.get(instance_type="x9z.huge")
    assert (unknown.missing, unknown.hourly_usd) == (True, None)
    p5 = {price.component: price.hourly_usd for price in Price.objects.filter(instance_type="ml.p5.48xlarge")}
    assert p5 == {"Training": Decimal("113.07"), "Hosting": None, "Notebook": None}


def test_it_fetches_a_price_once_a_day(db):
    first = prices_refresh(regions=["us-east-1"], instance_types=["g5.xlarge"], client=_pricing(), today=TODAY)
    again = prices_refresh(regions=["us-east-1"], instance_types=["g5.xlarge"], client=_pricing(), today=TODAY)
    assert (first.requests, again.requests, again.counts["looked_up"]) == (1, 0, 0)
    next_day = prices_refresh(
        regions=["us-east-1"], instance_types=["g5.xlarge"], client=_pricing(), today=date(2025, 6, 17)
    )
    assert next_day.requests == 1
    assert Price.objects.get(instance_type="g5.xlarge").fetched_on == date(2025, 6, 17)


def test_it_stores_gpu_quotas_with_the_usage_counted_from_inventory(fleet, accounts, teams):
    research = accounts["ml-research"]
    before = quotas_refresh(account=research, region=REGION, client_factory=client_factory(ML_RESEARCH), now=NOW)
    assert before.counts["usage_known"] is False
    assert set(ServiceQuota.objects.values_list("usage", flat=True)) == {None}
    inventory_collect(account=research, region=REGION, client_factory=client_factory(ML_RESEARCH), now=NOW)
    quotas_refresh(account=research, region=REGION, client_factory=client_factory(ML_RESEARCH), now=NOW)
    quotas = {quota.name: quota for quota in ServiceQuota.objects.filter(account=research)}
    p_family = quotas["Running On-Demand P instances"]
    # Monday 10:00: p4d (96 vCPUs) and the weekday-schedule p5 (192) both run
    assert (p_family.quota_code, p_family.value, p_family.usage) == ("L-417A185B", Decimal(800), Decimal(96 + 192))
    # g5.12xlarge x2 (48 each), g5.xlarge x2 (4 each): vision-dev-g5-0 and speech-scratch
    assert quotas["Running On-Demand G and VT instances"].usage == Decimal(48 * 2 + 4 * 2)
    assert "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances" not in quotas, "GPU-relevant ones only"
    assert quotas["ml.g5.xlarge for endpoint usage"].usage == Decimal(1)
    assert quotas["ml.g5.xlarge for notebook instance usage"].usage == Decimal(1)
    assert quotas["ml.p4d.24xlarge for training job usage"].usage == Decimal(0), "every job has finished"
    assert not any(name.startswith("ml.t3") or name.startswith("ml.m5") for name in quotas)

    prod = accounts["ml-prod"]
    inventory_collect(account=prod, region=REGION, client_factory=client_factory(ML_PROD), now=NOW)
    quotas_refresh(account=prod, region=REGION, client_factory=client_factory(ML_PROD), now=NOW)
    assert ServiceQuota.objects.get(account=prod, name="ml.g5.xlarge for endpoint usage").usage == Decimal(2)
    assert ServiceQuota.objects.get(account=prod, quota_code="L-1945791B").usage == Decimal(4)


def test_it_collects_the_trn_and_dl_quotas_with_the_vcpus_their_instances_run(fleet, accounts, teams):
    research = accounts["ml-research"]
    ec2 = client_factory(ML_RESEARCH)("ec2")
    for instance_type in ("trn1.2xlarge", "trn1.2xlarge", "dl2q.24xlarge", "gr6.4xlarge"):
        ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType=instance_type)
    inventory_collect(account=research, region=REGION, client_factory=client_factory(ML_RESEARCH), now=NOW)
    quotas_refresh(account=research, region=REGION, client_factory=client_factory(ML_RESEARCH), now=NOW)
    quotas = {quota.quota_code: quota for quota in ServiceQuota.objects.filter(account=research, service_code="ec2")}
    assert set(quotas) == {"L-417A185B", "L-DB2E81BA", "L-1945791B", "L-2C3B7624", "L-6E869C2A"}
    trn, dl = quotas["L-2C3B7624"], quotas["L-6E869C2A"]
    assert (trn.name, trn.value, trn.usage) == ("Running On-Demand Trn instances", Decimal(256), Decimal(2 * 8))
    assert (dl.name, dl.value, dl.usage) == ("Running On-Demand DL instances", Decimal(0), Decimal(96))
    assert trn.usage_metric["MetricDimensions"]["Class"] == "Trn/OnDemand"
    assert dl.usage_metric["MetricDimensions"]["Class"] == "DL/OnDemand"
    # the sandbox fleet's G usage (48 x 2 + 4 x 2) and the gr6.4xlarge's 16 vCPUs; the P quota counts no Trn or DL
    assert quotas["L-DB2E81BA"].usage == Decimal(48 * 2 + 4 * 2 + 16)
    assert quotas["L-417A185B"].usage == Decimal(96 + 192)
    assert quotas["L-1945791B"].usage == Decimal(0)


EC2_QUOTA_FAMILIES = {
    "L-417A185B": ("p2.xlarge", "p3.2xlarge", "p3dn.24xlarge", "p4d.24xlarge", "p4de.24xlarge", "p5.48xlarge",
                   "p5.4xlarge", "p5e.48xlarge", "p5en.48xlarge", "p6-b200.48xlarge", "p6e-gb200.36xlarge"),
    "L-DB2E81BA": ("g3.4xlarge", "g3s.xlarge", "g4dn.xlarge", "g4ad.xlarge", "g5.xlarge", "g5.48xlarge",
                   "g5g.xlarge", "g6.xlarge", "g6e.12xlarge", "g6f.large", "gr6.4xlarge", "gr6f.4xlarge",
                   "vt1.3xlarge"),
    "L-1945791B": ("inf1.xlarge", "inf1.24xlarge", "inf2.xlarge", "inf2.48xlarge"),
    "L-2C3B7624": ("trn1.2xlarge", "trn1.32xlarge", "trn1n.32xlarge", "trn2.48xlarge", "trn2.3xlarge"),
    "L-6E869C2A": ("dl1.24xlarge", "dl2q.24xlarge"),
}  # fmt: skip
OTHER_QUOTAS = ("i3.large", "i4i.xlarge", "im4gn.large", "is4gen.medium", "m6i.2xlarge", "c6i.xlarge", "r6i.4xlarge",
                "hpc6a.48xlarge", "f1.2xlarge", "x2gd.medium", "d3.xlarge", "t3.medium", "u-6tb1.56xlarge",
                "mac1.metal", "ml.g5.xlarge", "ml.p4d.24xlarge", "")  # fmt: skip


@pytest.mark.parametrize(
    ("instance_type", "code"),
    [(name, code) for code, names in EC2_QUOTA_FAMILIES.items() for name in names]
    + [(name, None) for name in OTHER_QUOTAS],
)
def test_each_instance_type_counts_against_its_families_on_demand_quota(instance_type, code):
    assert ec2_quota_code(instance_type) == code


def test_a_sagemaker_type_and_use_map_to_the_stored_quotas_code(fleet, accounts):
    prod = accounts["ml-prod"]
    quotas_refresh(account=prod, region=REGION, client_factory=client_factory(ML_PROD), now=NOW)
    endpoint = ServiceQuota.objects.get(account=prod, name="ml.g5.12xlarge for endpoint usage")
    training = ServiceQuota.objects.get(account=prod, name="ml.g5.12xlarge for training job usage")
    assert endpoint.quota_code != training.quota_code, "one type, two uses, two quotas"
    found = sagemaker_quota_code(account=prod, region=REGION, instance_type="ml.g5.12xlarge", use="endpoint")
    assert found == endpoint.quota_code
    found = sagemaker_quota_code(account=prod, region=REGION, instance_type="ml.g5.12xlarge", use="training job")
    assert found == training.quota_code
    assert sagemaker_quota_code(account=prod, region="eu-west-1", instance_type="ml.g5.xlarge", use="endpoint") is None
    assert sagemaker_quota_name("ml.p5.48xlarge", "notebook instance") == "ml.p5.48xlarge for notebook instance usage"
    with pytest.raises(ValueError):
        sagemaker_quota_name("ml.g5.xlarge", "inference")
