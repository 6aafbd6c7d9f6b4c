"""SageMaker: endpoints with their variants' instance types, notebook instances, training jobs, and tags.

DescribeEndpoint gives each variant's current instance count but not its type: that is in the
endpoint configuration. Tags come from ListTags, one call per resource.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from botocore.client import BaseClient

from capacity.aws import RequestCount, pages
from finops.aws.clients import with_backoff


def _call(client_call: Callable[..., dict[str, Any]], count: RequestCount | None, **params: Any) -> dict[str, Any]:
    response = with_backoff(client_call, **params)
    if count is not None:
        count.requests += 1
    return response


def tags(client: BaseClient, arn: str, *, count: RequestCount | None = None) -> dict[str, str]:
    return {
        tag["Key"]: tag["Value"]
        for page in pages(client.list_tags, count=count, ResourceArn=arn, MaxResults=50)
        for tag in page.get("Tags", [])
    }


def endpoints(client: BaseClient, *, count: RequestCount | None = None) -> Iterator[dict[str, Any]]:
    """DescribeEndpoint of each endpoint, plus `EndpointConfig` (its DescribeEndpointConfig) and `Tags`."""
    for page in pages(client.list_endpoints, count=count, MaxResults=100):
        for summary in page.get("Endpoints", []):
            endpoint = _call(client.describe_endpoint, count, EndpointName=summary["EndpointName"])
            config = _call(client.describe_endpoint_config, count, EndpointConfigName=endpoint["EndpointConfigName"])
            yield endpoint | {"EndpointConfig": config, "Tags": tags(client, endpoint["EndpointArn"], count=count)}


def notebook_instances(client: BaseClient, *, count: RequestCount | None = None) -> Iterator[dict[str, Any]]:
    for page in pages(client.list_notebook_instances, count=count, MaxResults=100):
        for summary in page.get("NotebookInstances", []):
            yield summary | {"Tags": tags(client, summary["NotebookInstanceArn"], count=count)}


def training_job_summaries(client: BaseClient, *, count: RequestCount | None = None) -> Iterator[dict[str, Any]]:
    for page in pages(client.list_training_jobs, count=count, MaxResults=100):
        yield from page.get("TrainingJobSummaries", [])


def training_job(client: BaseClient, name: str, *, count: RequestCount | None = None) -> dict[str, Any]:
    """DescribeTrainingJob plus `Tags`."""
    job = _call(client.describe_training_job, count, TrainingJobName=name)
    return job | {"Tags": tags(client, job["TrainingJobArn"], count=count)}
