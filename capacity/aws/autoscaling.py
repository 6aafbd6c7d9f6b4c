"""Auto Scaling groups (DescribeAutoScalingGroups); sizing a group for policies (UpdateAutoScalingGroup)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient

from capacity.aws import RequestCount, pages
from finops.aws.clients import with_backoff


def auto_scaling_groups(client: BaseClient, *, count: RequestCount | None = None) -> Iterator[dict[str, Any]]:
    for page in pages(client.describe_auto_scaling_groups, count=count, MaxRecords=100):
        yield from page.get("AutoScalingGroups", [])


def auto_scaling_group(client: BaseClient, name: str) -> dict[str, Any]:
    """DescribeAutoScalingGroups of one group (LookupError when it does not exist)."""
    groups = with_backoff(client.describe_auto_scaling_groups, AutoScalingGroupNames=[name]).get("AutoScalingGroups")
    if not groups:
        raise LookupError(f"Auto Scaling does not describe group {name}.")
    return groups[0]


def auto_scaling_group_size_set(client: BaseClient, name: str, *, minimum: int, desired: int, maximum: int) -> None:
    """UpdateAutoScalingGroup MinSize, DesiredCapacity, MaxSize."""
    with_backoff(
        client.update_auto_scaling_group,
        AutoScalingGroupName=name,
        MinSize=minimum,
        DesiredCapacity=desired,
        MaxSize=maximum,
    )
