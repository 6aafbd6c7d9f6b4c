"""Cost Explorer's GetCostAndUsage, GetAnomalies and GetCostForecast, paged and throttle-safe.

boto3 has no paginator for it, so `cost_and_usage` follows NextPageToken itself. Every page is a
billable request ($0.01 each), so the caller passes a `RequestCount` to learn how many were made.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from botocore.client import BaseClient

from finops.aws.clients import with_backoff

DEFAULT_METRICS = ("UnblendedCost", "AmortizedCost", "NetAmortizedCost", "UsageQuantity")
MAX_GROUP_BY_KEYS = 2


@dataclass
class RequestCount:
    """What a caller spent: answered (billable) pages, and throttled attempts that were retried."""

    requests: int = 0
    throttled: int = 0


def cost_and_usage(
    client: BaseClient,
    *,
    start: date,
    end: date,
    group_by: list[dict[str, str]],
    metrics: tuple[str, ...] = DEFAULT_METRICS,
    granularity: str = "DAILY",
    count: RequestCount | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict[str, Any]]:
    """Yield each ResultsByTime entry for [start, end), across all pages, one entry per time period.

    A period whose groups are split over two pages comes out once, with the groups of both.
    `count`, when given, is incremented as pages arrive, so it is right even if iteration stops early.
    """
    if len(group_by) > MAX_GROUP_BY_KEYS:
        raise ValueError(f"Cost Explorer groups by at most {MAX_GROUP_BY_KEYS} keys, got {len(group_by)}.")
    if start >= end:
        raise ValueError(f"The window must end after it starts, got {start} to {end}.")
    count = count if count is not None else RequestCount()

    def counting_sleep(seconds: float) -> None:
        count.throttled += 1
        sleep(seconds)

    params: dict[str, Any] = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": granularity,
        "Metrics": list(metrics),
        "GroupBy": list(group_by),
    }
    pending: dict[str, Any] | None = None
    token: str | None = None
    while True:
        page = with_backoff(
            client.get_cost_and_usage, sleep=counting_sleep, **params, **({"NextPageToken": token} if token else {})
        )
        count.requests += 1
        for entry in page.get("ResultsByTime", []):
            if pending is not None and pending["TimePeriod"] == entry["TimePeriod"]:
                pending["Groups"] = pending["Groups"] + entry.get("Groups", [])
                pending["Estimated"] = pending["Estimated"] or entry.get("Estimated", False)
                continue
            if pending is not None:
                yield pending
            pending = {**entry, "Groups": list(entry.get("Groups", [])), "Estimated": entry.get("Estimated", False)}
        token = page.get("NextPageToken")
        if not token:
            break
    if pending is not None:
        yield pending


def anomalies(
    client: BaseClient,
    *,
    start: date,
    end: date | None = None,
    monitor_arn: str | None = None,
    count: RequestCount | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict[str, Any]]:
    """Yield each anomaly Cost Anomaly Detection reports for [start, end] (GetAnomalies' dates are inclusive),
    across all pages (NextPageToken). Every page is a billable request, counted in `count` as it arrives."""
    if end is not None and end < start:
        raise ValueError(f"The window must not end before it starts, got {start} to {end}.")
    count = count if count is not None else RequestCount()

    def counting_sleep(seconds: float) -> None:
        count.throttled += 1
        sleep(seconds)

    params: dict[str, Any] = {
        "DateInterval": {"StartDate": start.isoformat(), **({"EndDate": end.isoformat()} if end else {})}
    }
    if monitor_arn:
        params["MonitorArn"] = monitor_arn
    token: str | None = None
    while True:
        page = with_backoff(
            client.get_anomalies, sleep=counting_sleep, **params, **({"NextPageToken": token} if token else {})
        )
        count.requests += 1
        yield from page.get("Anomalies", [])
        token = page.get("NextPageToken")
        if not token:
            break


def cost_forecast(
    client: BaseClient,
    *,
    start: date,
    end: date,
    metric: str = "NET_AMORTIZED_COST",
    granularity: str = "MONTHLY",
    level: int = 80,
    count: RequestCount | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """GetCostForecast for [start, end) at one prediction interval level (51-99): the response as AWS gives it,
    `Total` and `ForecastResultsByTime` (one entry per month with MONTHLY). One billable request, counted in `count`.
    AWS errors (DataUnavailableException with too little history, AccessDenied) rise as ClientError."""
    if start >= end:
        raise ValueError(f"The forecast must end after it starts, got {start} to {end}.")
    count = count if count is not None else RequestCount()

    def counting_sleep(seconds: float) -> None:
        count.throttled += 1
        sleep(seconds)

    response = with_backoff(
        client.get_cost_forecast,
        sleep=counting_sleep,
        TimePeriod={"Start": start.isoformat(), "End": end.isoformat()},
        Metric=metric,
        Granularity=granularity,
        PredictionIntervalLevel=level,
    )
    count.requests += 1
    return response
