"""EC2: instances (DescribeInstances) and instance type facts (DescribeInstanceTypes, GPUs included)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from capacity.aws import RequestCount, pages
from finops.aws.clients import error_code

INSTANCE_TYPES_PER_CALL = 100  # DescribeInstanceTypes names at most 100 types a call


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
