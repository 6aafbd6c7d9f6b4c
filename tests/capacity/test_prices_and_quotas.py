"""Prices from the Pricing API (found, missing, cached by date) and GPU quotas stored with their usage."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from capacity.models import Price, ServiceQuota
from capacity.services.inventory import inventory_collect
from capacity.services.prices import prices_refresh
from capacity.services.quotas import quotas_refresh

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
    assert (p_family.quota_code, p_family.value, p_family.usage) == ("L-417A185B", Decimal(1536), Decimal(96 + 192))
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
