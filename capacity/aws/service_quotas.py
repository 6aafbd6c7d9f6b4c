"""Service Quotas (ListServiceQuotas): the applied quota values of a service in an account and region."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient

from capacity.aws import RequestCount, pages


def service_quotas(
    client: BaseClient, *, service_code: str, count: RequestCount | None = None
) -> Iterator[dict[str, Any]]:
    for page in pages(client.list_service_quotas, count=count, ServiceCode=service_code, MaxResults=100):
        yield from page.get("Quotas", [])
