"""EKS managed node groups of every cluster (ListClusters, ListNodegroups, DescribeNodegroup)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient

from capacity.aws import RequestCount, pages
from finops.aws.clients import with_backoff


def node_groups(client: BaseClient, *, count: RequestCount | None = None) -> Iterator[dict[str, Any]]:
    for cluster_page in pages(client.list_clusters, count=count, token="nextToken"):
        for cluster in cluster_page.get("clusters", []):
            for page in pages(client.list_nodegroups, count=count, token="nextToken", clusterName=cluster):
                for name in page.get("nodegroups", []):
                    response = with_backoff(client.describe_nodegroup, clusterName=cluster, nodegroupName=name)
                    if count is not None:
                        count.requests += 1
                    yield response["nodegroup"]


def node_group(client: BaseClient, *, cluster: str, name: str) -> dict[str, Any]:
    """DescribeNodegroup's `nodegroup`."""
    return with_backoff(client.describe_nodegroup, clusterName=cluster, nodegroupName=name)["nodegroup"]


def node_group_size_set(
    client: BaseClient, *, cluster: str, name: str, minimum: int, desired: int, maximum: int
) -> None:
    """UpdateNodegroupConfig scalingConfig (EKS needs maxSize >= 1: a group at zero keeps its maximum)."""
    with_backoff(
        client.update_nodegroup_config,
        clusterName=cluster,
        nodegroupName=name,
        scalingConfig={"minSize": minimum, "desiredSize": desired, "maxSize": maximum},
    )
