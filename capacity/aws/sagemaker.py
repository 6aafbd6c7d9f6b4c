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


# --- Actions: resizing one endpoint (capacity/services/actions/resize_sagemaker.py) ---


def endpoint(client: BaseClient, name: str) -> dict[str, Any]:
    """DescribeEndpoint plus `EndpointConfig` (its DescribeEndpointConfig)."""
    described = with_backoff(client.describe_endpoint, EndpointName=name)
    config = with_backoff(client.describe_endpoint_config, EndpointConfigName=described["EndpointConfigName"])
    return described | {"EndpointConfig": config}


def endpoint_status(client: BaseClient, name: str) -> tuple[str, str]:
    """(EndpointStatus, FailureReason or "")."""
    described = with_backoff(client.describe_endpoint, EndpointName=name)
    return described.get("EndpointStatus", ""), described.get("FailureReason", "")


# What CreateEndpointConfig takes of a DescribeEndpointConfig answer (the rest is AWS's own: ARN, times).
ENDPOINT_CONFIG_FIELDS = (
    "DataCaptureConfig", "KmsKeyId", "AsyncInferenceConfig", "ExplainerConfig", "ShadowProductionVariants",
    "ExecutionRoleArn", "VpcConfig", "EnableNetworkIsolation",
)  # fmt: skip


def endpoint_config_create(
    client: BaseClient, *, name: str, source: dict[str, Any], variants: list[dict[str, Any]], tags: list | None = None
) -> dict[str, Any]:
    """CreateEndpointConfig `name`: `source`'s settings (a DescribeEndpointConfig answer) with `variants`."""
    # Empty answers ({} for no DataCaptureConfig) are left out: CreateEndpointConfig would refuse them.
    params: dict[str, Any] = {
        key: source[key] for key in ENDPOINT_CONFIG_FIELDS if source.get(key) not in (None, {}, [], "")
    }
    params |= {"EndpointConfigName": name, "ProductionVariants": variants}
    if tags:
        params["Tags"] = tags
    return with_backoff(client.create_endpoint_config, **params)


def endpoint_update(client: BaseClient, *, name: str, config_name: str) -> dict[str, Any]:
    return with_backoff(client.update_endpoint, EndpointName=name, EndpointConfigName=config_name)


# --- Policies: notebook stop/start, endpoint delete/recreate (capacity/services/actions/policy.py) -------------


def notebook(client: BaseClient, name: str) -> dict[str, Any]:
    """DescribeNotebookInstance."""
    return with_backoff(client.describe_notebook_instance, NotebookInstanceName=name)


def notebook_stop(client: BaseClient, name: str) -> None:
    with_backoff(client.stop_notebook_instance, NotebookInstanceName=name)


def notebook_start(client: BaseClient, name: str) -> None:
    with_backoff(client.start_notebook_instance, NotebookInstanceName=name)


def endpoint_described(client: BaseClient, name: str) -> dict[str, Any] | None:
    """DescribeEndpoint, or None when SageMaker does not know the endpoint (deleted)."""
    from botocore.exceptions import ClientError

    try:
        return with_backoff(client.describe_endpoint, EndpointName=name)
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", "")
        if error.response.get("Error", {}).get("Code") == "ValidationException" and "ould not find" in message:
            return None
        raise


def endpoint_delete(client: BaseClient, name: str) -> None:
    """DeleteEndpoint: the EndpointConfig (and the model) stay, so the endpoint can be created again."""
    with_backoff(client.delete_endpoint, EndpointName=name)


def endpoint_create(client: BaseClient, *, name: str, config_name: str, tags: dict[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = {"EndpointName": name, "EndpointConfigName": config_name}
    if tags:
        params["Tags"] = [{"Key": key, "Value": value} for key, value in tags.items() if not key.startswith("aws:")]
    return with_backoff(client.create_endpoint, **params)
