"""Compute Optimizer: every recommendation of one resource type for the calling account, page by page.

The client speaks smithy-rpc-v2-cbor (botocore 1.43); pagination is `nextToken`, and most of these
operations have no boto3 paginator, so `pages` follows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient

from capacity.aws import RequestCount, pages

# resource type (our name) -> (client method, list key in the response)
OPERATIONS: dict[str, tuple[str, str]] = {
    "Ec2Instance": ("get_ec2_instance_recommendations", "instanceRecommendations"),
    "AutoScalingGroup": ("get_auto_scaling_group_recommendations", "autoScalingGroupRecommendations"),
    "EbsVolume": ("get_ebs_volume_recommendations", "volumeRecommendations"),
    "LambdaFunction": ("get_lambda_function_recommendations", "lambdaFunctionRecommendations"),
    "EcsService": ("get_ecs_service_recommendations", "ecsServiceRecommendations"),
    "RdsDBInstance": ("get_rds_database_recommendations", "rdsDBRecommendations"),
    "Idle": ("get_idle_recommendations", "idleRecommendations"),
}


def recommendations(
    client: BaseClient, resource_type: str, *, count: RequestCount | None = None, errors: list | None = None
) -> Iterator[dict[str, Any]]:
    """Every recommendation of `resource_type` (an OPERATIONS key); per-resource errors go to `errors`."""
    method, key = OPERATIONS[resource_type]
    for page in pages(getattr(client, method), count=count, token="nextToken"):
        if errors is not None:
            errors.extend(page.get("errors", []))
        yield from page.get(key, [])
