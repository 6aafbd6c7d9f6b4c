"""The sandbox's side of the client factory: answers what moto does not, or not deterministically.

`install_handlers(client)` registers botocore `before-call` handlers, the mechanism
`botocore.stub.Stubber` uses, for the operations the sandbox answers itself; every other operation
goes on to moto (server mode or `mock_aws`). Like Stubber, each request is validated against the
operation's input shape and each response against its output shape before it is returned, so a
malformed answer raises instead of reaching the product.

Answered here: Cost Explorer GetCostAndUsage (from the same billing lines as the exports), GetCostForecast
(a trend line through the same lines' recent days, see sandbox/cost_explorer.py) and GetAnomalies (spikes in the
same lines, see sandbox/anomalies.py),
Organizations ListAccounts / DescribeOrganization / DescribeAccount (fixed account ids), Pricing
GetProducts (the sandbox's rate table), Service Quotas GetServiceQuota / ListServiceQuotas (per
account and region), Compute Optimizer's Get*Recommendations (per account and region, see
sandbox/compute_optimizer.py) and EC2 DescribeCapacityReservations / DescribeReservedInstances (per account
and region, see sandbox/reservations.py; moto answers the rest of EC2). The data's size and "today" come from
COSTPLANE_SANDBOX_SIZE / COSTPLANE_SANDBOX_TODAY at call time.

Given an `account_id`, every request also carries moto's `x-moto-account-id` header, so moto keeps
each sandbox account's resources apart (moto's documented multi-account mechanism).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ParamValidationError
from botocore.model import OperationModel
from botocore.validate import validate_parameters

from sandbox import anomalies, compute_optimizer, cost_explorer, organizations, pricing, quotas, reservations
from sandbox.dataset import dataset_from_environment
from sandbox.errors import AwsError

Answer = Callable[[dict], dict]
ScopedAnswer = Callable[..., dict]  # (request, *, account_id, region) -> response
PARAMS_KEY = "sandbox_api_params"
ACCOUNT_HEADER = "x-moto-account-id"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's, for a client that names no account


def _cost_and_usage(request: dict) -> dict:
    return cost_explorer.get_cost_and_usage(dataset_from_environment().cost_data, request)


def _cost_forecast(request: dict) -> dict:
    return cost_explorer.get_cost_forecast(dataset_from_environment().cost_data, request)


def _anomalies(request: dict) -> dict:
    return anomalies.get_anomalies(dataset_from_environment().cost_data, request)


ANSWERS: dict[str, dict[str, Answer]] = {
    "cost-explorer": {
        "GetCostAndUsage": _cost_and_usage,
        "GetCostForecast": _cost_forecast,
        "GetAnomalies": _anomalies,
    },
    "organizations": {
        "ListAccounts": organizations.list_accounts,
        "DescribeOrganization": organizations.describe_organization,
        "DescribeAccount": organizations.describe_account,
    },
    "pricing": {"GetProducts": pricing.get_products},
}
# Answers that depend on the calling client's account and region.
SCOPED_ANSWERS: dict[str, dict[str, ScopedAnswer]] = {
    "service-quotas": {
        "GetServiceQuota": quotas.get_service_quota,
        "ListServiceQuotas": quotas.list_service_quotas,
    },
    "compute-optimizer": compute_optimizer.ANSWERS,
    "ec2": reservations.ANSWERS,  # moto answers every other EC2 operation
}


def validated_response(operation_model: OperationModel, response: dict) -> dict:
    """`response` if it fits the operation's output shape (as Stubber checks); ParamValidationError if not."""
    body = {key: value for key, value in response.items() if key != "ResponseMetadata"}
    shape = operation_model.output_shape
    if shape is not None:
        validate_parameters(body, shape)
    elif body:
        raise ParamValidationError(report="Service response should only contain ResponseMetadata.")
    return response


def _request_id(operation: str, request: dict) -> str:
    digest = hashlib.sha256(f"{operation}:{json.dumps(request, sort_keys=True, default=str)}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _remember_params(params: dict, context: dict, **kwargs: Any) -> None:
    """Keep the caller's parameters: the before-call event only sees the serialised request."""
    context[PARAMS_KEY] = copy.deepcopy(params)


def _handler(answer: Answer) -> Callable[..., tuple[AWSResponse, dict] | None]:
    def handle(model: OperationModel, params: dict, context: dict, **kwargs: Any) -> tuple[AWSResponse, dict]:
        request = context.get(PARAMS_KEY)
        if request is None:  # a caller that skipped before-parameter-build: read the JSON body instead
            request = json.loads(params.get("body") or b"{}")
        if model.input_shape is not None:
            validate_parameters(request, model.input_shape)
        url = params.get("url", "")
        metadata = {"RequestId": _request_id(model.name, request), "HTTPHeaders": {}, "RetryAttempts": 0}
        try:
            response = validated_response(model, answer(request))
        except AwsError as error:
            body = {"Error": {"Code": error.code, "Message": error.message}}
            return AWSResponse(url, 400, {}, None), body | {"ResponseMetadata": metadata | {"HTTPStatusCode": 400}}
        return AWSResponse(url, 200, {}, None), response | {"ResponseMetadata": metadata | {"HTTPStatusCode": 200}}

    return handle


def _account_header(account_id: str) -> Callable[..., None]:
    def add_header(request: Any, **kwargs: Any) -> None:
        request.headers[ACCOUNT_HEADER] = account_id

    return add_header


def install_handlers(client: Any, *, account_id: str | None = None) -> None:
    """Register the sandbox's handlers on `client`: before-call answers (none for services moto answers),
    and with `account_id` the header that puts the client's requests in that moto account."""
    service_id = client.meta.service_model.service_id.hyphenize()
    if account_id:
        client.meta.events.register_first("before-sign", _account_header(account_id), unique_id="sandbox-account")
    answers = dict(ANSWERS.get(service_id, {}))
    scope = {"account_id": account_id or DEFAULT_ACCOUNT_ID, "region": client.meta.region_name}
    for operation, scoped in SCOPED_ANSWERS.get(service_id, {}).items():
        answers[operation] = functools.partial(scoped, **scope)
    if not answers:
        return
    events = client.meta.events
    events.register_first(f"before-parameter-build.{service_id}", _remember_params, unique_id="sandbox-params")
    for operation, answer in answers.items():
        events.register_first(
            f"before-call.{service_id}.{operation}", _handler(answer), unique_id=f"sandbox-{service_id}-{operation}"
        )


def sandbox_client(service: str, *, account_id: str, region: str, endpoint_url: str | None = None) -> Any:
    """A boto3 client of the sandbox in `account_id`: moto (at `endpoint_url`, or `mock_aws`) plus the handlers."""
    import boto3

    client = boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
    )
    install_handlers(client, account_id=account_id)
    return client
