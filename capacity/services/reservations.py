"""Capacity reservations: the EC2 On-Demand Capacity Reservations (Capacity Blocks for ML too) of an account and region.

Decisions:
- Every state is stored (active, scheduled, expired, cancelled, ...): the capacity plan reads the active and scheduled
  ones (capacity/selectors/reservations.py), the rest is history AWS still shows.
- Only the account's own reservations: a reservation another account shares with it holds the owner's quota, not
  this account's, and the owner's collection stores it (counts["shared"] says how many were left out).
- Everything is read first, then written in one transaction that replaces the account-region's rows: a reservation
  AWS no longer lists is deleted (AWS drops ended reservations from its answer after a while). An AWS error fails
  the run and leaves the stored rows as they were. The same answer twice leaves the same rows (`fetched_at` aside).
- The instance types reserved get their facts (vCPUs, GPUs) cached as the inventory caches them, so a reservation
  converts to the vCPUs its quota counts even for a type no instance of the account runs.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from capacity.aws import ClientFactory
from capacity.aws import ec2 as ec2_api
from capacity.models import CapacityReservation, CollectionRun
from capacity.services.inventory import clients_for, instance_types_refresh
from capacity.services.runs import collection_run
from finops.models import CloudAccount


def _fields(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "arn": item.get("CapacityReservationArn", ""),
        "instance_type": item["InstanceType"],
        "instance_platform": item.get("InstancePlatform", ""),
        "availability_zone": item.get("AvailabilityZone", ""),
        "tenancy": item.get("Tenancy", ""),
        "reservation_type": item.get("ReservationType") or "default",
        "total_instance_count": item.get("TotalInstanceCount", 0),
        "available_instance_count": item.get("AvailableInstanceCount", 0),
        "state": item["State"],
        "start_date": item.get("StartDate"),
        "end_date": item.get("EndDate"),
        "end_date_type": item.get("EndDateType", ""),
        "tags": {tag["Key"]: tag.get("Value", "") for tag in item.get("Tags", [])},
    }


def reservations_refresh(
    *, account: CloudAccount, region: str, client_factory: ClientFactory | None = None, now: datetime | None = None
) -> CollectionRun:
    """Fetch the account's capacity reservations in `region` and store them, replacing what was stored before."""
    now = now or timezone.now()
    with collection_run(kind=CollectionRun.Kind.RESERVATIONS, account=account, region=region) as (run, count):
        client = clients_for(account=account, region=region, client_factory=client_factory)("ec2")
        listed = list(ec2_api.capacity_reservations(client, count=count))
        owned = [item for item in listed if item.get("OwnerId", account.account_id) == account.account_id]
        instance_types_refresh(names={item["InstanceType"] for item in owned}, client=client, count=count, now=now)
        with transaction.atomic():
            stored = CapacityReservation.objects.filter(account=account, region=region)
            gone, _ = stored.exclude(reservation_id__in=[item["CapacityReservationId"] for item in owned]).delete()
            for item in owned:
                CapacityReservation.objects.update_or_create(
                    account=account,
                    region=region,
                    reservation_id=item["CapacityReservationId"],
                    defaults=_fields(item) | {"fetched_at": now},
                )
        run.counts = {
            "reservations": len(owned),
            "by_state": dict(sorted(Counter(item["State"] for item in owned).items())),
            "removed": gone,
            "shared": len(listed) - len(owned),
        }
    return run
