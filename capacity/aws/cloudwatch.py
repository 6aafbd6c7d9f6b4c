"""CloudWatch GetMetricData: many metric queries over one window, 500 a call, every page followed.

A query that finds no datapoints for an hour returns no timestamp for it: the caller decides what a
missing hour means (Costplane: unknown, never zero).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.client import BaseClient

from capacity.aws import RequestCount, pages

MAX_QUERIES_PER_CALL = 500
HOUR = 3600


@dataclass(frozen=True)
class MetricQuery:
    """One statistic of one metric: `id` must start with a lowercase letter and be unique in a call."""

    id: str
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    period: int = HOUR

    def request(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "MetricStat": {
                "Metric": {
                    "Namespace": self.namespace,
                    "MetricName": self.metric_name,
                    "Dimensions": [{"Name": name, "Value": value} for name, value in self.dimensions],
                },
                "Period": self.period,
                "Stat": self.stat,
            },
            "ReturnData": True,
        }


def metric_data(
    client: BaseClient,
    *,
    queries: list[MetricQuery],
    start: datetime,
    end: datetime,
    max_datapoints: int | None = None,
    count: RequestCount | None = None,
) -> dict[str, dict[datetime, float]]:
    """{query id: {period start (UTC): value}} for [start, end); ids with no data map to {}.

    PartialData pages are completed by following NextToken; a Forbidden or InternalError status raises ValueError.
    """
    results: dict[str, dict[datetime, float]] = defaultdict(dict)
    for offset in range(0, len(queries), MAX_QUERIES_PER_CALL):
        batch = queries[offset : offset + MAX_QUERIES_PER_CALL]
        params: dict[str, Any] = {
            "MetricDataQueries": [query.request() for query in batch],
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        if max_datapoints is not None:
            params["MaxDatapoints"] = max_datapoints
        for page in pages(client.get_metric_data, count=count, **params):
            for result in page.get("MetricDataResults", []):
                if result.get("StatusCode") in ("Forbidden", "InternalError"):
                    raise ValueError(f"CloudWatch answered {result['StatusCode']} for query {result['Id']}.")
                values = results[result["Id"]]
                for timestamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=True):
                    values[timestamp.astimezone(UTC)] = value
    return {query.id: dict(results.get(query.id, {})) for query in queries}
