"""The small sandbox's capacity plan, end to end: billing, inventory, metrics, quotas and reservations collected,
demand computed and forecast, then the plan: at least one quota crosses within 180 days and one never does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings

from capacity.selectors.capacity_plan import capacity_plan
from capacity.services.demand import gpu_demand_compute
from capacity.services.forecasts import gpu_demand_forecast_refresh
from capacity.services.quotas import quotas_refresh
from capacity.services.reservations import reservations_refresh
from tests.capacity.conftest import NOW, REGION, TODAY, client_factory

pytestmark = pytest.mark.django_db


@pytest.fixture
def planned(billed_and_collected, monkeypatch):
    monkeypatch.setenv("COSTPLANE_SANDBOX_TODAY", TODAY.isoformat())
    for account in billed_and_collected.values():
        factory = client_factory(account.account_id)
        quotas_refresh(account=account, region=REGION, client_factory=factory, now=NOW)
        reservations_refresh(account=account, region=REGION, client_factory=factory, now=NOW)
    gpu_demand_compute(start=TODAY - timedelta(days=420), end=TODAY)
    gpu_demand_forecast_refresh(horizon_days=180, today=TODAY)
    return capacity_plan(today=TODAY)


def test_the_small_sandbox_plan_has_a_crossing_within_180_days_and_a_quota_that_never_crosses(planned):
    horizon = TODAY + timedelta(days=180)
    crossing = [item for item in planned.items if item.cross_date_p95 and item.cross_date_p95 < horizon]
    assert crossing
    for item in crossing:
        assert item.request_by == item.cross_date_p95 - timedelta(days=settings.COSTPLANE_CAPACITY_LEAD_TIME_DAYS)
    assert any(item.cross_date_p95 is None and item.in_use_now for item in planned.items)
    # ml-research's P quota (800 vCPUs in the small sandbox): 288 in use (a p4d.24xlarge, 96, and a p5.48xlarge,
    # 192), a p5 reservation with one of two instances unused (192), and a Capacity Block of two p5.48xlarge (384)
    # from 30 days ahead: 288 + 192 + 384 = 864 > 800 from the block's first day, the median as the p95.
    (item,) = [item for item in planned.items if item.quota_code == "L-417A185B" and item.in_use_now]
    assert (item.limit, item.in_use_now, item.unused_reserved, item.headroom_now) == (800, 288, 192, 320)
    assert item.cross_date_median == item.cross_date_p95 == TODAY + timedelta(days=30)
    assert item.request_by == TODAY + timedelta(days=30 - 42) and item.status == "late"
