"""EC2: instances (DescribeInstances), instance type facts (DescribeInstanceTypes, GPUs included), the capacity held
(DescribeCapacityReservations, Capacity Blocks for ML included; DescribeReservedInstances); the stop /
ModifyInstanceAttribute / start calls of a resize action, each with DryRun."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from capacity.aws import RequestCount, pages
from finops.aws.clients import error_code, with_backoff

INSTANCE_TYPES_PER_CALL = 100  # DescribeInstanceTypes names at most 100 types a call
CAPACITY_RESERVATIONS_PER_PAGE = 1000  # DescribeCapacityReservations' MaxResults limit


def instances(client: BaseClient, *, count: RequestCount | None = None) -> Iterator[dict[str, Any]]:
    for page in pages(client.describe_instances, count=count, MaxResults=1000):
        for reservation in page.get("Reservations", []):
            yield from reservation.get("Instances", [])


def _describe(client: BaseClient, names: list[str], count: RequestCount | None) -> list[dict[str, Any]]:
    return [
        entry
        for page in pages(client.describe_instance_types, count=count, InstanceTypes=names)
        for entry in page.get("InstanceTypes", [])
    ]


def instance_types(
    client: BaseClient, names: Iterable[str], *, count: RequestCount | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """(InstanceTypes entries, the names EC2 does not know)."""
    wanted = sorted(set(names))
    found: list[dict[str, Any]] = []
    unknown: list[str] = []
    for start in range(0, len(wanted), INSTANCE_TYPES_PER_CALL):
        batch = wanted[start : start + INSTANCE_TYPES_PER_CALL]
        try:
            found.extend(_describe(client, batch, count))
        except ClientError as error:
            if error_code(error) != "InvalidInstanceType":
                raise
            for name in batch:  # one unknown name fails the whole call: find which
                try:
                    found.extend(_describe(client, [name], count))
                except ClientError as single_error:
                    if error_code(single_error) != "InvalidInstanceType":
                        raise
                    unknown.append(name)
    return found, unknown


def capacity_reservations(client: BaseClient, *, count: RequestCount | None = None) -> Iterator[dict[str, Any]]:
    """Every capacity reservation the account can see in the client's region, in every state (the account's own
    and those shared with it: `OwnerId` tells them apart)."""
    for page in pages(client.describe_capacity_reservations, count=count, MaxResults=CAPACITY_RESERVATIONS_PER_PAGE):
        yield from page.get("CapacityReservations", [])


# --- Actions: resizing one instance (capacity/services/actions/resize_ec2.py) -------


def instance(client: BaseClient, instance_id: str) -> dict[str, Any]:
    """DescribeInstances of one instance (ClientError InvalidInstanceID.NotFound when AWS does not know it)."""
    for reservation in with_backoff(client.describe_instances, InstanceIds=[instance_id]).get("Reservations", []):
        for item in reservation.get("Instances", []):
            return item
    raise LookupError(f"EC2 does not describe instance {instance_id}.")


def instance_stop(client: BaseClient, instance_id: str, *, dry_run: bool = False) -> dict[str, Any]:
    return with_backoff(client.stop_instances, InstanceIds=[instance_id], DryRun=dry_run)


def instance_start(client: BaseClient, instance_id: str, *, dry_run: bool = False) -> dict[str, Any]:
    return with_backoff(client.start_instances, InstanceIds=[instance_id], DryRun=dry_run)


def instance_type_set(client: BaseClient, instance_id: str, instance_type: str, *, dry_run: bool = False) -> None:
    """ModifyInstanceAttribute InstanceType (the instance must be stopped)."""
    with_backoff(
        client.modify_instance_attribute, InstanceId=instance_id, InstanceType={"Value": instance_type}, DryRun=dry_run
    )


def dry_run_answer(call: Callable[[], Any]) -> dict[str, str]:
    """Run an EC2 call made with DryRun=True: {"would_succeed": "yes"} for DryRunOperation, else AWS's error.

    AWS answers a permitted dry run with the error DryRunOperation and a refused one with
    UnauthorizedOperation (or any other error); a call that answers normally ignored DryRun.
    """
    try:
        call()
    except ClientError as error:
        code = error_code(error)
        if code == "DryRunOperation":
            return {"would_succeed": "yes", "code": code}
        return {"would_succeed": "no", "code": code, "message": error.response.get("Error", {}).get("Message", "")}
    return {"would_succeed": "unknown", "code": "", "message": "AWS answered without honouring DryRun."}
