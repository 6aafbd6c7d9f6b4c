"""The capacity plan: each GPU quota of an account and region against its demand forecast, and by when to ask for more.

Per (account, region, quota) (ARCHITECTURE.md, "Capacity planning API"):
- `limit`: the quota's applied value; `in_use_now`: what Costplane counted against it from the inventory (null
  before the first inventory); `reserved`: the capacity held by the account-region's Capacity Reservations (Capacity
  Blocks for ML included) that hold it today, in the quota's unit; `unused_reserved`: their part not in use.
- `headroom_now` = limit − in_use_now − unused_reserved: a reservation holds quota even when idle.
- A crossing is a forecast day where demand + unused reserved capacity that day > limit. `cross_date_median` is the
  first such day of the forecast's point (median) path, `cross_date_p95` of its 95th percentile (the upper end of
  the 90% interval); null when nothing crosses within the forecast's horizon. Reservations that start later (a
  scheduled Capacity Block) hold their whole count from their start to their end.
- `request_by` = cross_date_p95 − the lead time (COSTPLANE_CAPACITY_LEAD_TIME_DAYS, default 42).
- `status`: over (headroom_now < 0: already over), late (request_by passed), soon (request_by within
  COSTPLANE_CAPACITY_SOON_DAYS, default 14), else ok.
A scenario layers on the forecast: every demand path × growth_multiplier, plus its projects that land on the quota
(capacity.services.scenarios.project_demand).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from capacity.models import CapacityReservation, CapacityScenario, GpuDemandForecast, InstanceTypeInfo, ServiceQuota
from capacity.selectors.scenarios import ProjectLoad, scenario_loads
from capacity.services.quotas import EC2_GPU_QUOTAS, SAGEMAKER_QUOTA, ec2_quota_code

HOLDING_STATES = ("active", "scheduled", "payment-pending", "pending", "assessing", "delayed")
ZERO = Decimal(0)


@dataclass
class PlanDay:
    day: date
    median: Decimal
    p95: Decimal
    unused_reserved: Decimal


@dataclass
class PlanItem:
    account: str
    region: str
    service_code: str
    quota_code: str
    quota_name: str
    unit: str
    limit: Decimal
    reserved: Decimal
    unused_reserved: Decimal
    in_use_now: Decimal | None
    headroom_now: Decimal | None
    cross_date_median: date | None
    cross_date_p95: date | None
    request_by: date | None
    status: str
    forecast_model: str = ""
    days: list[PlanDay] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        text = {"limit", "reserved", "unused_reserved", "in_use_now", "headroom_now"}
        dates = {"cross_date_median", "cross_date_p95", "request_by"}
        keys = ["account", "region", "service_code", "quota_code", "quota_name", "unit", *sorted(text), *sorted(dates)]
        body = {}
        for key in keys:
            value = getattr(self, key)
            if key in text:
                value = None if value is None else _number(value)
            elif key in dates:
                value = None if value is None else value.isoformat()
            body[key] = value
        return body | {"status": self.status}


@dataclass
class Plan:
    generated_at: object
    lead_time_days: int
    scenario: CapacityScenario | None
    items: list[PlanItem]


def _number(value: Decimal) -> str:
    """A quantity as a plain decimal string without trailing zeros ("1536", "12.5")."""
    text = f"{value.normalize():f}"
    return text


def _type_vcpus() -> dict[str, int]:
    return dict(InstanceTypeInfo.objects.values_list("instance_type", "vcpus"))


def _gpu_quotas():
    quotas = ServiceQuota.objects.select_related("account").order_by(
        "account__account_id", "region", "service_code", "quota_code"
    )
    for quota in quotas:
        if quota.service_code == "ec2" and quota.quota_code in EC2_GPU_QUOTAS:
            yield quota, "vCPU"
        elif quota.service_code == "sagemaker" and SAGEMAKER_QUOTA.match(quota.name):
            yield quota, "instances"


def _newest_forecasts() -> dict[str, GpuDemandForecast]:
    newest = (
        GpuDemandForecast.objects.filter(group=GpuDemandForecast.Group.QUOTA)
        .order_by("value", "-generated_at")
        .distinct("value")
    )
    return {forecast.value: forecast for forecast in newest}


def _reservation_holds(reservation: CapacityReservation, day: date, today: date) -> Decimal | None:
    """Instances of the reservation that hold quota unused on `day` (None: it does not hold capacity that day)."""
    if reservation.state not in HOLDING_STATES:
        return None
    starts = reservation.start_date.date() if reservation.start_date else None
    ends = reservation.end_date.date() if reservation.end_date else None
    if (starts and day < starts) or (ends and day >= ends):
        return None
    if reservation.state == "active" and (starts is None or starts <= today):
        return Decimal(reservation.available_instance_count)
    return Decimal(reservation.total_instance_count)


def _reservations_by_quota(today: date) -> dict[tuple, list[CapacityReservation]]:
    found: dict[tuple, list[CapacityReservation]] = defaultdict(list)
    rows = CapacityReservation.objects.filter(state__in=HOLDING_STATES).select_related("account")
    for reservation in rows:
        code = ec2_quota_code(reservation.instance_type)
        if code and (reservation.end_date is None or reservation.end_date.date() > today):
            found[(reservation.account.account_id, reservation.region, code)].append(reservation)
    return found


def _status(
    headroom: Decimal | None, median_cross: date | None, request_by: date | None, today: date, soon: int
) -> str:
    if (headroom is not None and headroom < 0) or (
        headroom is None and median_cross is not None and median_cross <= today
    ):
        return "over"
    if request_by is None:
        return "ok"
    if request_by < today:
        return "late"
    if request_by <= today + timedelta(days=soon):
        return "soon"
    return "ok"


def capacity_plan(*, scenario: CapacityScenario | None = None, today: date | None = None) -> Plan:
    """The plan of every stored GPU quota (see the module), with the scenario layered on when one is given."""
    today = today or timezone.now().date()
    lead = int(settings.COSTPLANE_CAPACITY_LEAD_TIME_DAYS)
    soon = int(settings.COSTPLANE_CAPACITY_SOON_DAYS)
    forecasts = _newest_forecasts()
    reservations = _reservations_by_quota(today)
    vcpus = _type_vcpus()
    multiplier = scenario.growth_multiplier if scenario else Decimal(1)
    loads: dict[tuple, list[ProjectLoad]] = scenario_loads(scenario) if scenario else {}
    items = []
    for quota, unit in _gpu_quotas():
        account = quota.account.account_id
        key = (account, quota.region, quota.quota_code)
        held = reservations.get(key, [])

        def unused_on(day: date, held=held) -> Decimal:
            total = ZERO
            for reservation in held:
                count = _reservation_holds(reservation, day, today)
                if count is not None:
                    total += count * vcpus.get(reservation.instance_type, 0)
            return total

        reserved = sum(
            (
                Decimal(reservation.total_instance_count * vcpus.get(reservation.instance_type, 0))
                for reservation in held
                if _reservation_holds(reservation, today, today) is not None
            ),
            ZERO,
        )
        unused_now = unused_on(today)
        headroom = None if quota.usage is None else quota.value - quota.usage - unused_now
        forecast = forecasts.get(f"{account}:{quota.region}:{quota.service_code}:{quota.quota_code}")
        quota_loads = loads.get((account, quota.region, quota.service_code, quota.quota_code), [])
        days = []
        for point in forecast.points if forecast else []:
            day = date.fromisoformat(point["day"])
            if day < today:
                continue
            extra = sum((load.amount for load in quota_loads if load.covers(day)), ZERO)
            days.append(
                PlanDay(
                    day=day,
                    median=Decimal(point["mean"]) * multiplier + extra,
                    p95=Decimal(point.get("upper_90", point["mean"])) * multiplier + extra,
                    unused_reserved=unused_on(day),
                )
            )
        median_cross = next((d.day for d in days if d.median + d.unused_reserved > quota.value), None)
        p95_cross = next((d.day for d in days if d.p95 + d.unused_reserved > quota.value), None)
        request_by = p95_cross - timedelta(days=lead) if p95_cross else None
        items.append(
            PlanItem(
                account=account,
                region=quota.region,
                service_code=quota.service_code,
                quota_code=quota.quota_code,
                quota_name=quota.name,
                unit=unit,
                limit=quota.value,
                reserved=reserved,
                unused_reserved=unused_now,
                in_use_now=quota.usage,
                headroom_now=headroom,
                cross_date_median=median_cross,
                cross_date_p95=p95_cross,
                request_by=request_by,
                status=_status(headroom, median_cross, request_by, today, soon),
                forecast_model=forecast.model if forecast else "",
                days=days,
            )
        )
    generated = max((forecast.generated_at for forecast in forecasts.values()), default=None)
    return Plan(generated_at=generated, lead_time_days=lead, scenario=scenario, items=items)
