"""What every capacity AWS wrapper shares: following an operation's pages, counting requests, the client factory type.

Every wrapper takes a boto3 client (built by `aws_client` for an account and region) and yields plain
AWS dicts, following each API's pagination and retrying throttling through `with_backoff`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.client import BaseClient

from finops.aws.clients import with_backoff


@dataclass
class RequestCount:
    """AWS requests a collection made (answered pages), for its run record."""

    requests: int = 0


def pages(
    call: Callable[..., dict[str, Any]],
    *,
    count: RequestCount | None = None,
    token: str = "NextToken",
    **params: Any,
) -> Iterator[dict[str, Any]]:
    """Every page of a paginated AWS operation, following `token` (NextToken; EKS says nextToken)."""
    next_token: str | None = None
    while True:
        page = with_backoff(call, **params, **({token: next_token} if next_token else {}))
        if count is not None:
            count.requests += 1
        yield page
        next_token = page.get(token)
        if not next_token:
            return


ClientFactory = Callable[[str], BaseClient]  # service name -> client for one account and region
