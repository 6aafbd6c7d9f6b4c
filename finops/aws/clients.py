"""The one place that builds boto3 clients: region, endpoint, assumed role, retries, sandbox.

`COSTPLANE_AWS=aws` talks to real AWS, assuming each account's role (with its ExternalId) through
STS. `sandbox` (the default) points every client at the simulated account: moto's server for the
services moto implements faithfully, and the sandbox's `before-call` handlers for the rest. Nothing
above this module knows which one answers.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials
from botocore.exceptions import ClientError
from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from finops.models import CloudAccount

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Error codes AWS uses for "slow down"; retried with backoff, everything else rises at once.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "SlowDown",
        "ProvisionedThroughputExceededException",
    }
)

# Error codes AWS uses for "this principal may not call that": the run's part fails naming the permission.
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden", "403"})
# IAM service prefixes that are not the boto3 service name.
IAM_PREFIXES = {"service-quotas": "servicequotas"}
# Operations whose IAM action is not the operation's own name (s3transfer's download starts with HeadObject).
IAM_ACTIONS = {("s3", "ListObjectsV2"): "s3:ListBucket", ("s3", "HeadObject"): "s3:GetObject"}
PERMISSION_KEY = "CostplanePermission"  # where the client puts the IAM action an access-denied answer refused

SANDBOX_CREDENTIALS = {"aws_access_key_id": "sandbox", "aws_secret_access_key": "sandbox"}
SANDBOX_HOOK = "sandbox.aws.install_handlers"

_sessions: dict[tuple[str, str], boto3.Session] = {}


def _client_config(region: str) -> Config:
    return Config(
        region_name=region, retries={"mode": "standard", "max_attempts": 8}, connect_timeout=10, read_timeout=60
    )


def _assumed_role_session(account: CloudAccount) -> boto3.Session:
    """A session whose credentials come from assuming the account's role, refreshed before they expire."""
    cache_key = (account.role_arn, account.external_id)
    session = _sessions.get(cache_key)
    if session is not None:
        return session
    base = boto3.Session()
    extra: dict[str, Any] = {"RoleSessionName": "costplane"}
    if account.external_id:
        extra["ExternalId"] = account.external_id
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=base._session.create_client,
        source_credentials=base._session.get_credentials(),
        role_arn=account.role_arn,
        extra_args=extra,
    )
    credentials = DeferredRefreshableCredentials(method="assume-role", refresh_using=fetcher.fetch_credentials)
    botocore_session = base._session.__class__()
    botocore_session._credentials = credentials
    session = boto3.Session(botocore_session=botocore_session)
    _sessions[cache_key] = session
    return session


def iam_action(service: str, operation: str) -> str:
    """The IAM action that allows `operation` (an API name, GetObject) of `service` (a boto3 name, s3)."""
    return IAM_ACTIONS.get((service, operation)) or f"{IAM_PREFIXES.get(service, service)}:{operation}"


def _permission_namer(service: str) -> Callable[..., None]:
    """An after-call handler: an access-denied answer carries the IAM action it refused (the error cannot say)."""

    def name_permission(http_response: Any, parsed: dict, model: Any, **kwargs: Any) -> None:
        error = parsed.get("Error") if isinstance(parsed, dict) else None
        if http_response.status_code >= 300 and error and str(error.get("Code", "")) in ACCESS_DENIED_CODES:
            error[PERMISSION_KEY] = iam_action(service, model.name)

    return name_permission


def aws_client(service: str, *, account: CloudAccount | None = None, region: str | None = None) -> BaseClient:
    """A boto3 client for `service`, for `account` (its role assumed) in `region`."""
    region = region or settings.COSTPLANE_AWS_REGION
    config = _client_config(region)
    if settings.COSTPLANE_AWS == "sandbox":
        endpoint = settings.COSTPLANE_SANDBOX_ENDPOINT or None
        client = boto3.Session(**SANDBOX_CREDENTIALS, region_name=region).client(
            service, endpoint_url=endpoint, config=config
        )
        import_string(SANDBOX_HOOK)(client, account_id=account.account_id if account is not None else None)
    elif account is not None and account.role_arn:
        client = _assumed_role_session(account).client(service, config=config)
    else:
        client = boto3.Session().client(service, config=config)
    service_id = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"after-call.{service_id}", _permission_namer(service), unique_id="costplane-iam")
    return client


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def access_denied_text(error: BaseException, *, service: str | None = None) -> str | None:
    """The error text naming the permission an access-denied ClientError lacks, else None:
    "AccessDenied: ce:GetCostAndUsage is not granted to the role (AWS answered AccessDeniedException: ...)".

    The permission comes from the client that made the call (aws_client names it on the error); `service` names it
    for a client made elsewhere (a test's), else the operation alone is named.
    """
    if not isinstance(error, ClientError) or str(error_code(error)) not in ACCESS_DENIED_CODES:
        return None
    operation = error.operation_name or "an operation"
    permission = error.response.get("Error", {}).get(PERMISSION_KEY) or (
        iam_action(service, operation) if service else operation
    )
    answer = ": ".join(filter(None, (str(error_code(error)), error.response.get("Error", {}).get("Message", ""))))
    return f"AccessDenied: {permission} is not granted to the role (AWS answered {answer})"


def with_backoff(
    call: Callable[..., T],
    /,
    *,
    attempts: int = 8,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> T:
    """Call an AWS operation, retrying throttling errors with jittered exponential backoff.

    botocore retries throttling on the wire already; this covers what arrives above it (responses
    from before-call handlers, including the sandbox's and botocore's Stubber) and long bursts.
    """
    for attempt in range(1, attempts + 1):
        try:
            return call(**kwargs)
        except ClientError as error:
            if error_code(error) not in THROTTLING_CODES or attempt == attempts:
                raise
            delay = min(max_delay, base_delay * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
            logger.warning("AWS throttled %s (attempt %d of %d); retrying in %.1fs", call, attempt, attempts, delay)
            sleep(delay)
    raise AssertionError("unreachable")
