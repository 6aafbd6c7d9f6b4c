"""The capacity plan against a hand-computed case: one P quota, a linear demand forecast, reservations, a lead time.

Quota L-417A185B (P instances, vCPUs) of 1,000 with 400 in use; p5.48xlarge has 192 vCPUs and 8 GPUs. An active
Capacity Reservation of 2 p5.48xlarge with 1 available holds 192 vCPUs unused. The stored forecast of the quota's
demand is linear from the plan's first day d = 0: median 400 + 3d, 95th percentile (upper_90) 450 + 3d.
- median crossing: 400 + 3d + 192 > 1000 → d > 136 → d = 137;
- p95 crossing: 450 + 3d + 192 > 1000 → d > 119.3 → d = 120;
- request_by = d 120 − 42 days = d 78 → ok; headroom now = 1000 − 400 − 192 = 408.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from capacity.models import (
    CapacityReservation,
    CapacityScenario,
    GpuDemandForecast,
    InstanceTypeInfo,
    ScenarioProject,
    ServiceQuota,
)
from capacity.selectors.capacity_plan import capacity_plan
from capacity.services.alerts import capacity_plan_alert_specs
from finops.models import Alert
from finops.services.alerts import alerts_sync
from tests.factories import CloudAccountFactory

pytestmark = pytest.mark.django_db

ACCOUNT = "111122223333"
REGION = "us-east-1"
CODE = "L-417A185B"


def today() -> date:
    return timezone.now().date()


def at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


@pytest.fixture
def hand_case(db):
    account = CloudAccountFactory(account_id=ACCOUNT, name="research")
    InstanceTypeInfo.objects.create(
        instance_type="p5.48xlarge", vcpus=192, memory_mib=2_097_152, accelerator_kind="gpu", gpu_count=8,
        gpu_model="H100", fetched_at=timezone.now(),
    )  # fmt: skip
    quota = ServiceQuota.objects.create(
        account=account, region=REGION, service_code="ec2", quota_code=CODE, name="Running On-Demand P instances",
        value=Decimal(1000), usage=Decimal(400), unit="None", fetched_at=timezone.now(),
    )  # fmt: skip
    CapacityReservation.objects.create(
        account=account, region=REGION, reservation_id="cr-0aaa", instance_type="p5.48xlarge",
        total_instance_count=2, available_instance_count=1, state="active", start_date=at(today() - timedelta(30)),
        fetched_at=timezone.now(),
    )  # fmt: skip
    start = today()
    GpuDemandForecast.objects.create(
        group="quota", value=f"{ACCOUNT}:{REGION}:ec2:{CODE}", metric="quota_demand", generated_at=timezone.now(),
        history_start=start - timedelta(days=400), history_end=start, horizon_days=180, model="linear",
        points=[
            {"day": (start + timedelta(days=d)).isoformat(), "mean": repr(400.0 + 3 * d),
             "lower_90": repr(350.0 + 3 * d), "upper_90": repr(450.0 + 3 * d)}
            for d in range(180)
        ],
    )  # fmt: skip
    return account, quota


def the_item(plan):
    (item,) = [item for item in plan.items if item.quota_code == CODE]
    return item


def test_the_plan_of_a_hand_computed_case(hand_case, settings):
    settings.COSTPLANE_CAPACITY_LEAD_TIME_DAYS = 42
    item = the_item(capacity_plan())
    assert item.limit == 1000 and item.in_use_now == 400
    assert item.reserved == 2 * 192 and item.unused_reserved == 192
    assert item.headroom_now == 408
    assert item.cross_date_median == today() + timedelta(days=137)
    assert item.cross_date_p95 == today() + timedelta(days=120)
    assert item.request_by == today() + timedelta(days=78) == item.cross_date_p95 - timedelta(days=42)
    assert item.status == "ok" and item.unit == "vCPU"


@pytest.mark.parametrize(
    ("lead", "status"), [(42, "ok"), (105, "ok"), (106, "soon"), (110, "soon"), (120, "soon"), (121, "late")]
)
def test_the_status_follows_the_request_by_date(hand_case, settings, lead, status):
    """request_by = d 120 − lead: 105 days → d 15 (ok), 106 → d 14 (soon: within 14 days), 120 → today (soon),
    121 → yesterday (late)."""
    settings.COSTPLANE_CAPACITY_LEAD_TIME_DAYS = lead
    item = the_item(capacity_plan())
    assert item.request_by == today() + timedelta(days=120 - lead)
    assert item.status == status


def test_over_when_use_and_idle_reservations_pass_the_limit(hand_case):
    _, quota = hand_case
    quota.usage = Decimal(809)  # 809 + 192 = 1001 > 1000
    quota.save()
    item = the_item(capacity_plan())
    assert item.headroom_now == -1 and item.status == "over"


def test_a_reservation_that_starts_later_holds_its_whole_count_from_its_start(hand_case):
    """A Capacity Block of 1 p5.48xlarge (192 vCPUs) from d 100 to d 114: p95 at d 100 is 450 + 300 + 192 + 192 =
    1134 > 1000, and before it 450 + 3d + 192 > 1000 first at d 120: the crossing moves to d 100."""
    account, _ = hand_case
    CapacityReservation.objects.create(
        account=account, region=REGION, reservation_id="cr-0block", instance_type="p5.48xlarge",
        reservation_type="capacity-block", total_instance_count=1, available_instance_count=1, state="scheduled",
        start_date=at(today() + timedelta(days=100)), end_date=at(today() + timedelta(days=114)),
        fetched_at=timezone.now(),
    )  # fmt: skip
    item = the_item(capacity_plan())
    assert item.unused_reserved == 192, "it holds nothing today"
    assert item.cross_date_p95 == today() + timedelta(days=100)
    assert item.cross_date_median == today() + timedelta(days=100)  # 400 + 300 + 384 = 1084


def test_a_scenario_multiplies_the_forecast_and_adds_its_projects(hand_case):
    """× 1.25: median 500 + 3.75d + 192 > 1000 → d > 82.1 → 83; p95 562.5 + 3.75d + 192 > 1000 → d > 65.3 → 66.
    A project of 12 GPUs of p5.48xlarge = ceil(12 / 8) = 2 instances = 384 vCPUs from d 30 for a month (30 or 31
    days): p95 at d 30 is 562.5 + 112.5 + 192 + 384 = 1251 > 1000, so the p95 crossing is d 30; the median at d 30
    is 500 + 112.5 + 576 = 1188.5 > 1000, so is the median's."""
    scenario = CapacityScenario.objects.create(name="growth", growth_multiplier=Decimal("1.25"))
    item = the_item(capacity_plan(scenario=scenario))
    assert item.cross_date_median == today() + timedelta(days=83)
    assert item.cross_date_p95 == today() + timedelta(days=66)
    ScenarioProject.objects.create(
        scenario=scenario, team="speech", instance_type="p5.48xlarge", region=REGION, gpus=12,
        start=today() + timedelta(days=30), months=1,
    )  # fmt: skip
    item = the_item(capacity_plan(scenario=scenario))
    assert item.cross_date_p95 == today() + timedelta(days=30)
    assert item.cross_date_median == today() + timedelta(days=30)
    base = the_item(capacity_plan())
    assert base.cross_date_p95 == today() + timedelta(days=120), "the base plan is untouched"


def test_a_quota_that_never_crosses_has_null_dates(hand_case):
    _, quota = hand_case
    quota.value = Decimal(100_000)
    quota.save()
    item = the_item(capacity_plan())
    assert item.cross_date_median is None and item.cross_date_p95 is None and item.request_by is None
    assert item.status == "ok"


def test_the_plan_alerts_once_while_a_quota_is_soon_and_resolves_when_it_clears(hand_case, settings):
    settings.COSTPLANE_CAPACITY_LEAD_TIME_DAYS = 110
    specs = capacity_plan_alert_specs()
    assert [spec.key for spec in specs] == [f"plan:{ACCOUNT}:{REGION}:ec2:{CODE}"]
    alerts_sync(kind=Alert.Kind.CAPACITY_PLAN, current=specs, now=timezone.now())
    alerts_sync(kind=Alert.Kind.CAPACITY_PLAN, current=capacity_plan_alert_specs(), now=timezone.now())
    assert Alert.objects.filter(kind=Alert.Kind.CAPACITY_PLAN).count() == 1
    alert = Alert.objects.get(kind=Alert.Kind.CAPACITY_PLAN)
    assert alert.state == Alert.State.OPEN and "request" in alert.title
    settings.COSTPLANE_CAPACITY_LEAD_TIME_DAYS = 42
    alerts_sync(kind=Alert.Kind.CAPACITY_PLAN, current=capacity_plan_alert_specs(), now=timezone.now())
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED


def test_the_plan_api_json_and_csv(hand_case, viewer_api):
    response = viewer_api.get("/api/v1/capacity-plan")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["lead_time_days"] == 42 and body["scenario"] is None
    (item,) = [item for item in body["items"] if item["quota_code"] == CODE]
    assert item == {
        "account": ACCOUNT, "region": REGION, "service_code": "ec2", "quota_code": CODE,
        "quota_name": "Running On-Demand P instances", "unit": "vCPU", "limit": "1000", "reserved": "384",
        "unused_reserved": "192", "in_use_now": "400", "headroom_now": "408",
        "cross_date_median": (today() + timedelta(days=137)).isoformat(),
        "cross_date_p95": (today() + timedelta(days=120)).isoformat(),
        "request_by": (today() + timedelta(days=78)).isoformat(), "status": "ok",
    }  # fmt: skip
    csv_response = viewer_api.get("/api/v1/capacity-plan?format=csv")
    assert csv_response.status_code == 200 and csv_response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(csv_response.content.decode())))
    assert rows[0]["request_by"] == item["request_by"] and rows[0]["headroom_now"] == "408"


def test_the_plan_api_rejects_an_unknown_scenario_and_strangers(hand_case, viewer_api, api_client):
    assert viewer_api.get("/api/v1/capacity-plan?scenario=999").json() == {
        "errors": {"scenario": ["There is no scenario 999."]}
    }
    assert viewer_api.get("/api/v1/capacity-plan?scenario=x").status_code == 400
    assert "horizon" in viewer_api.get("/api/v1/capacity-plan?horizon=3").json()["errors"]
    api_client.force_authenticate(None)
    assert api_client.get("/api/v1/capacity-plan").status_code in (401, 403)


def test_scenarios_api_operators_write_viewers_read(hand_case, api_client, operator, viewer):
    api_client.force_authenticate(operator)
    body = {
        "name": "p5 for speech",
        "growth_multiplier": "1.1",
        "projects": [
            {"team": "speech", "instance_type": "p5.48xlarge", "region": REGION, "gpus": 12,
             "start": (today() + timedelta(days=30)).isoformat(), "months": 1}
        ],
    }  # fmt: skip
    created = api_client.post("/api/v1/capacity-scenarios/", body, format="json")
    assert created.status_code == 201, created.content
    scenario_id = created.json()["id"]
    assert created.json()["projects"][0]["gpus"] == 12 and created.json()["growth_multiplier"] == "1.1000"
    plan = api_client.get(f"/api/v1/capacity-plan?scenario={scenario_id}").json()
    (item,) = [item for item in plan["items"] if item["quota_code"] == CODE]
    assert item["cross_date_p95"] == (today() + timedelta(days=30)).isoformat()
    assert plan["scenario"] == {"id": scenario_id, "name": "p5 for speech", "growth_multiplier": "1.1"}
    patched = api_client.patch(f"/api/v1/capacity-scenarios/{scenario_id}/", {"projects": []}, format="json")
    assert patched.status_code == 200 and patched.json()["projects"] == []
    bad = api_client.post(
        "/api/v1/capacity-scenarios/",
        {"name": "bad", "growth_multiplier": "0", "projects": [{}, {"team": "x", "instance_type": "m5.large",
         "region": REGION, "gpus": 0, "start": "2027-13-01", "months": 2}]},
        format="json",
    )  # fmt: skip
    assert bad.status_code == 400
    errors = bad.json()["errors"]
    assert {"growth_multiplier", "projects[0].team", "projects[1].instance_type", "projects[1].gpus",
            "projects[1].start"} <= set(errors)  # fmt: skip
    api_client.force_authenticate(viewer)
    assert api_client.get(f"/api/v1/capacity-scenarios/{scenario_id}/").status_code == 200
    assert api_client.delete(f"/api/v1/capacity-scenarios/{scenario_id}/").status_code == 403
    assert api_client.post("/api/v1/capacity-scenarios/", body, format="json").status_code == 403
    api_client.force_authenticate(operator)
    assert api_client.delete(f"/api/v1/capacity-scenarios/{scenario_id}/").status_code == 204
