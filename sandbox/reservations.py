"""EC2 reservations for the sandbox: DescribeCapacityReservations and DescribeReservedInstances per account and region.

moto 5.2 implements neither operation (moto/ec2/responses/reserved_instances.py raises NotImplementedError and
capacity reservations have no backend), so the sandbox answers both through the before-call handler in
sandbox/aws.py, which validates each request and answer against botocore's EC2 model as Stubber does. Every other
EC2 call still goes to moto.

On-Demand Capacity Reservations (dates relative to the sandbox's today, COSTPLANE_SANDBOX_TODAY; counts for the
small size, FULL_SIZE_SCALE times as many in the full one, as sandbox/quotas.py raises the quotas):
- ml-research, us-east-1: an active default reservation of 2 p5.48xlarge, 1 of them in use (the speech team's
  trainer runs in it), from 45 days ago to 90 days ahead; a Capacity Block for ML of 2 p5.48xlarge (reservation
  type "capacity-block", targeted, scheduled) from 11:30 UTC 30 days ahead for 14 days, as AWS starts and ends
  blocks at 11:30 UTC; a default reservation of 2 g5.12xlarge that expired 120 days ago.
- ml-prod, us-east-1: an active default reservation of 2 g5.12xlarge with no end date (end date type
  "unlimited"), targeted and unused: standby capacity for the ranker's serving.
- full size only (not scaled), ml-research, us-west-2: an active reservation of 6 p4d.24xlarge, 2 of them unused.
The small set is part of the full one (the same reservations, with the same ids). States follow the dates.

Reserved Instances (regional, us-east-1): an active 1-year Standard No Upfront RI of 1 m6i.2xlarge in data (its
ETL box), an active 3-year Convertible Partial Upfront RI of 2 g5.xlarge in ml-prod, and a retired 1-year RI of
1 m5.xlarge in data. Prices are plausible, not AWS's price list, and the sandbox's billing lines carry no RI fee
rows for them yet: the commitments work (Reserved Instances in GET /api/v1/commitments, ARN
arn:aws:ec2:{region}:{account}:reserved-instances/{ReservedInstancesId}) is to build on this set and bill it.

Requests: CapacityReservationIds / ReservedInstancesIds, OfferingClass, OfferingType and the documented Filters
named in *_FILTERS (values take EC2's * and ? wildcards), DryRun, and for capacity reservations MaxResults /
NextToken. A page holds at most PAGE_SIZE reservations (EC2 may return fewer than MaxResults), so that callers
follow NextToken.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from fnmatch import fnmatchcase

from sandbox.catalogue import ACCOUNT_IDS, stable_hex
from sandbox.dataset import environment_settings
from sandbox.errors import AwsError
from sandbox.quotas import FULL_SIZE_SCALE

PAGE_SIZE = 2
MAX_RESULTS = 1000  # EC2's limit for DescribeCapacityReservations
CAPACITY_BLOCK_HOUR = time(11, 30)  # Capacity Blocks for ML start and end at 11:30 UTC
ZONE_IDS = {"us-east-1a": "use1-az6", "us-west-2a": "usw2-az1", "eu-west-1a": "euw1-az1"}
CAPACITY_RESERVATION_ID = re.compile(r"^cr-[0-9a-f]{17}$")
YEAR_SECONDS = 365 * 24 * 3600

# (account, region, name, instance type, reservation type, match criteria, total, in use, start day, days or None
#  for unlimited, sizes, tags). Days are relative to today; a Capacity Block starts and ends at 11:30 UTC.
CAPACITY_RESERVATIONS = (
    ("ml-research", "us-east-1", "speech-p5-odcr", "p5.48xlarge", "default", "open", 2, 1, -45, 135,
     ("small", "full"), {"team": "speech", "project": "asr"}),
    ("ml-research", "us-east-1", "vision-p5-block", "p5.48xlarge", "capacity-block", "targeted", 2, 0, 30, 14,
     ("small", "full"), {"team": "vision", "project": "image-tagger"}),
    ("ml-research", "us-east-1", "recsys-g5-odcr", "g5.12xlarge", "default", "open", 2, 0, -200, 80,
     ("small", "full"), {"team": "recsys", "project": "ranker"}),
    ("ml-prod", "us-east-1", "ranker-g5-standby", "g5.12xlarge", "default", "targeted", 2, 0, -150, None,
     ("small", "full"), {"team": "recsys", "project": "ranker", "environment": "prod"}),
    ("ml-research", "us-west-2", "vision-p4d-odcr", "p4d.24xlarge", "default", "open", 6, 4, -60, 120,
     ("full",), {"team": "vision", "project": "defect-detect"}),
)  # fmt: skip

# (account, region, name, instance type, count, offering class, offering type, years, start day, fixed price USD
#  per instance, hourly recurring USD per instance, team)
RESERVED_INSTANCES = (
    ("data", "us-east-1", "etl-m6i", "m6i.2xlarge", 1, "standard", "No Upfront", 1, -100, 0.0, 0.242, "recsys"),
    ("ml-prod", "us-east-1", "serving-g5", "g5.xlarge", 2, "convertible", "Partial Upfront", 3, -300, 7150.0, 0.272,
     "vision"),
    ("data", "us-east-1", "etl-m5-old", "m5.xlarge", 1, "standard", "All Upfront", 1, -500, 1143.0, 0.0, "recsys"),
)  # fmt: skip

CAPACITY_RESERVATION_FILTERS: dict[str, Callable[[dict], list[str]]] = {
    "instance-type": lambda item: [item["InstanceType"]],
    "owner-id": lambda item: [item["OwnerId"]],
    "instance-platform": lambda item: [item["InstancePlatform"]],
    "availability-zone": lambda item: [item["AvailabilityZone"]],
    "tenancy": lambda item: [item["Tenancy"]],
    "state": lambda item: [item["State"]],
    "end-date-type": lambda item: [item["EndDateType"]],
    "instance-match-criteria": lambda item: [item["InstanceMatchCriteria"]],
    "tag-key": lambda item: [tag["Key"] for tag in item["Tags"]],
}
RESERVED_INSTANCES_FILTERS: dict[str, Callable[[dict], list[str]]] = {
    "instance-type": lambda item: [item["InstanceType"]],
    "state": lambda item: [item["State"]],
    "scope": lambda item: [item["Scope"]],
    "product-description": lambda item: [item["ProductDescription"]],
    "reserved-instances-id": lambda item: [item["ReservedInstancesId"]],
    "duration": lambda item: [str(item["Duration"])],
    "tag-key": lambda item: [tag["Key"] for tag in item["Tags"]],
}


def _at(day: date, moment: time = time()) -> datetime:
    return datetime.combine(day, moment, tzinfo=UTC)


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def _state(start: datetime, end: datetime | None, now: datetime) -> str:
    if now < start:
        return "scheduled"
    return "active" if end is None or now < end else "expired"


def capacity_reservations(account_id: str, region: str) -> list[dict]:
    """The account's capacity reservations in `region`, as DescribeCapacityReservations describes them, by id."""
    seed, size, today = environment_settings()
    now = _at(today)
    found = []
    for spec in CAPACITY_RESERVATIONS:
        account, where, name, instance_type, kind, criteria, total, used, first, days, sizes, tags = spec
        if ACCOUNT_IDS[account] != account_id or where != region or size not in sizes:
            continue
        scale = FULL_SIZE_SCALE if size == "full" and "small" in sizes else 1  # the full-only one is full-sized
        block = kind == "capacity-block"
        start = _at(today + timedelta(days=first), CAPACITY_BLOCK_HOUR if block else time())
        end = None if days is None else start + timedelta(days=days)
        state = _state(start, end, now)
        reservation_id = "cr-0" + stable_hex(seed, account_id, region, name, length=16)
        zone = f"{region}a"
        item = {
            "CapacityReservationId": reservation_id,
            "OwnerId": account_id,
            "CapacityReservationArn": f"arn:aws:ec2:{region}:{account_id}:capacity-reservation/{reservation_id}",
            "AvailabilityZoneId": ZONE_IDS.get(zone, f"{region}-az1"),
            "InstanceType": instance_type,
            "InstancePlatform": "Linux/UNIX",
            "AvailabilityZone": zone,
            "Tenancy": "default",
            "TotalInstanceCount": total * scale,
            "AvailableInstanceCount": (total - (used if state == "active" else 0)) * scale,
            "EbsOptimized": True,
            "EphemeralStorage": False,
            "State": state,
            "StartDate": start,
            "EndDateType": "unlimited" if end is None else "limited",
            "InstanceMatchCriteria": criteria,
            "CreateDate": start - timedelta(hours=1)
            if start <= now
            else now - timedelta(days=2),  # a block is bought ahead
            "Tags": _tags(tags),
            "CapacityAllocations": [],
            "ReservationType": kind,
            "DeliveryPreference": "fixed",
        }
        if end is not None:
            item["EndDate"] = end
        found.append(item)
    return sorted(found, key=lambda item: item["CapacityReservationId"])


def reserved_instances(account_id: str, region: str) -> list[dict]:
    """The account's Reserved Instances in `region`, as DescribeReservedInstances describes them, by id."""
    seed, size, today = environment_settings()
    scale = FULL_SIZE_SCALE if size == "full" else 1
    found = []
    for spec in RESERVED_INSTANCES:
        account, where, name, instance_type, count, offering_class, offering_type, years, first, fixed, hourly, team = (
            spec
        )
        if ACCOUNT_IDS[account] != account_id or where != region:
            continue
        start = _at(today + timedelta(days=first), time(8, 12, 30))
        end = start + timedelta(seconds=years * YEAR_SECONDS)
        digest = stable_hex(seed, account_id, region, name, "reserved-instances", length=32)
        found.append(
            {
                "ReservedInstancesId": f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:]}",
                "InstanceType": instance_type,
                "Start": start,
                "End": end,
                "Duration": years * YEAR_SECONDS,
                "UsagePrice": 0.0,
                "FixedPrice": fixed,  # per instance, as EC2 states it
                "InstanceCount": count * scale,
                "ProductDescription": "Linux/UNIX",
                "State": "active" if _at(today) < end else "retired",
                "Tags": _tags({"team": team}),
                "InstanceTenancy": "default",
                "CurrencyCode": "USD",
                "OfferingType": offering_type,
                "RecurringCharges": [{"Amount": hourly, "Frequency": "Hourly"}] if hourly else [],
                "OfferingClass": offering_class,
                "Scope": "Region",  # regional: no zone, and no capacity held
            }
        )
    return sorted(found, key=lambda item: item["ReservedInstancesId"])


def _dry_run(request: dict) -> None:
    if request.get("DryRun"):
        raise AwsError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.")


def _filtered(items: list[dict], filters: list[dict], known: dict[str, Callable[[dict], list[str]]]) -> list[dict]:
    """The items every filter matches: one of its values (with * and ? wildcards) equals one of the item's."""
    for entry in filters:
        name, patterns = entry.get("Name", ""), entry.get("Values", [])
        if name.startswith("tag:"):
            key = name.removeprefix("tag:")

            def values(item: dict, key: str = key) -> list[str]:
                return [tag["Value"] for tag in item["Tags"] if tag["Key"] == key]

        elif name in known:
            values = known[name]
        else:
            raise AwsError("InvalidParameterValue", f"The filter '{name}' is invalid")
        items = [item for item in items if any(fnmatchcase(v, p) for v in values(item) for p in patterns)]
    return items


def describe_capacity_reservations(request: dict, *, account_id: str, region: str) -> dict:
    _dry_run(request)
    found = capacity_reservations(account_id, region)
    if wanted := request.get("CapacityReservationIds"):
        for reservation_id in wanted:
            if not CAPACITY_RESERVATION_ID.match(reservation_id):
                raise AwsError(
                    "InvalidCapacityReservationId.Malformed",
                    f"The capacity reservation ID '{reservation_id}' is malformed",
                )
        missing = sorted(set(wanted) - {item["CapacityReservationId"] for item in found})
        if missing:
            raise AwsError(
                "InvalidCapacityReservationId.NotFound",
                f"The capacity reservation ID '{', '.join(missing)}' does not exist",
            )
        found = [item for item in found if item["CapacityReservationId"] in wanted]
    found = _filtered(found, request.get("Filters", []), CAPACITY_RESERVATION_FILTERS)
    size = request.get("MaxResults") or MAX_RESULTS
    if not 1 <= size <= MAX_RESULTS:
        raise AwsError("InvalidParameterValue", f"MaxResults must be between 1 and {MAX_RESULTS}, not {size}")
    token = request.get("NextToken")
    try:
        offset = int(token.removeprefix("cr-page-")) if token else 0
    except ValueError as error:
        raise AwsError("InvalidNextToken", "The NextToken is not valid") from error
    size = min(size, PAGE_SIZE)
    response: dict = {"CapacityReservations": found[offset : offset + size]}
    if offset + size < len(found):
        response["NextToken"] = f"cr-page-{offset + size}"
    return response


def describe_reserved_instances(request: dict, *, account_id: str, region: str) -> dict:
    _dry_run(request)
    found = reserved_instances(account_id, region)
    if wanted := request.get("ReservedInstancesIds"):
        missing = sorted(set(wanted) - {item["ReservedInstancesId"] for item in found})
        if missing:
            raise AwsError("InvalidReservedInstancesId", f"Reserved Instances ID(s) not found: {', '.join(missing)}")
        found = [item for item in found if item["ReservedInstancesId"] in wanted]
    for field in ("OfferingClass", "OfferingType"):
        if request.get(field):
            found = [item for item in found if item[field] == request[field]]
    return {"ReservedInstances": _filtered(found, request.get("Filters", []), RESERVED_INSTANCES_FILTERS)}


ANSWERS = {
    "DescribeCapacityReservations": describe_capacity_reservations,
    "DescribeReservedInstances": describe_reserved_instances,
}
