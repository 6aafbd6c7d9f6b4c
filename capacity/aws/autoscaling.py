"""Auto Scaling groups (DescribeAutoScalingGroups)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient

from capacity.aws import RequestCount, pages


def auto_scaling_groups(client: BaseClient, *, count: RequestCount | None = None) -> Iterator[dict[str, Any]]:
    for page in pages(client.describe_auto_scaling_groups, count=count, MaxRecords=100):
        yield from page.get("AutoScalingGroups", [])
