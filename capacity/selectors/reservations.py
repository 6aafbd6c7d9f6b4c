"""Capacity reservations that hold capacity on a day, and what they hold per instance type and per On-Demand quota.

A reservation holds capacity on a day (UTC) when it is active or scheduled and its [start, end) overlaps that day;
no end date (end date type "unlimited") holds on every day from its start. Expired, cancelled, failed and pending
ones hold nothing. A held reservation counts against the On-Demand quota of its family whether used or not (the
capacity plan's unused_reserved); its used part is the running instances the inventory already counts.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Q

from capacity.models import CapacityReservation, InstanceTypeInfo
from capacity.services.quotas import ec2_quota_code
from finops.models import CloudAccount

logger = logging.getLogger(__name__)

HOLDING_STATES = ("active", "scheduled")


@dataclass(frozen=True)
class Reserved:
    """What reservations hold: `reserved` in all, `unused` of it (nothing runs in it), in instances or vCPUs."""

    reserved: Decimal
    unused: Decimal


def reservations_holding(*, account: CloudAccount, region: str, on: date) -> list[CapacityReservation]:
    """The account's reservations in `region` that hold capacity on day `on`, ordered as the model orders them."""
    day_start = datetime.combine(on, time(), tzinfo=UTC)
    day_end = day_start + timedelta(days=1)
    return list(
        CapacityReservation.objects.filter(account=account, region=region, state__in=HOLDING_STATES)
        .filter(Q(start_date__isnull=True) | Q(start_date__lt=day_end))
        .filter(Q(end_date__isnull=True) | Q(end_date__gt=day_start))
    )


def _unused(reservation: CapacityReservation) -> int:
    # Nothing can run in a reservation before it starts, whatever its available count says.
    if reservation.state == "scheduled":
        return reservation.total_instance_count
    return reservation.available_instance_count


def reserved_capacity_by_type(*, account: CloudAccount, region: str, on: date) -> dict[str, Reserved]:
    """{instance type: instances reserved and unused} of the reservations holding capacity on day `on`.

    Unused is as AWS last counted it (the available instance count), all of it for a reservation not yet started.
    """
    reserved: dict[str, int] = defaultdict(int)
    unused: dict[str, int] = defaultdict(int)
    for reservation in reservations_holding(account=account, region=region, on=on):
        reserved[reservation.instance_type] += reservation.total_instance_count
        unused[reservation.instance_type] += _unused(reservation)
    return {name: Reserved(Decimal(reserved[name]), Decimal(unused[name])) for name in sorted(reserved)}


def reserved_capacity_by_quota(*, account: CloudAccount, region: str, on: date) -> dict[str, Reserved]:
    """{EC2 On-Demand quota code: vCPUs reserved and unused} on day `on`, for the accelerated quotas collected.

    A type whose facts (vCPUs) are not stored is left out with a warning; reservations_refresh stores the facts of
    every type it reserves, so that happens only for a type DescribeInstanceTypes does not know.
    """
    by_type = reserved_capacity_by_type(account=account, region=region, on=on)
    vcpus = dict(InstanceTypeInfo.objects.filter(instance_type__in=by_type).values_list("instance_type", "vcpus"))
    reserved: dict[str, Decimal] = defaultdict(Decimal)
    unused: dict[str, Decimal] = defaultdict(Decimal)
    for instance_type, held in by_type.items():
        code = ec2_quota_code(instance_type)
        if code is None:
            continue
        if instance_type not in vcpus:
            logger.warning("reserved %s left out of quota %s: its vCPUs are not known", instance_type, code)
            continue
        reserved[code] += held.reserved * vcpus[instance_type]
        unused[code] += held.unused * vcpus[instance_type]
    return {code: Reserved(reserved[code], unused[code]) for code in sorted(reserved)}
