"""Cost Explorer answers for botocore Stubber: request parameters, groups and pages, and the rows stored."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from finops.models import CostExplorerRecord

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


METRICS = ["UnblendedCost", "AmortizedCost", "NetAmortizedCost", "UsageQuantity"]


ACCOUNT_SERVICE = [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "SERVICE"}]


TEAM = [{"Type": "TAG", "Key": "team"}, {"Type": "DIMENSION", "Key": "SERVICE"}]


def no_sleep(seconds: float) -> None:
    pass


def params(start: str, end: str, group_by: list[dict], token: str | None = None) -> dict:
    expected = {
        "TimePeriod": {"Start": start, "End": end},
        "Granularity": "DAILY",
        "Metrics": METRICS,
        "GroupBy": group_by,
    }
    if token:
        expected["NextPageToken"] = token
    return expected


def group(keys: list[str], unblended: str, amortized: str | None = None, usage: str = "1") -> dict:
    amortized = amortized if amortized is not None else unblended
    return {
        "Keys": keys,
        "Metrics": {
            "UnblendedCost": {"Amount": unblended, "Unit": "USD"},
            "AmortizedCost": {"Amount": amortized, "Unit": "USD"},
            "NetAmortizedCost": {"Amount": amortized, "Unit": "USD"},
            "UsageQuantity": {"Amount": usage, "Unit": "N/A"},
        },
    }


def page(days: dict[str, list[dict]], token: str | None = None, estimated: bool = False) -> dict:
    response: dict = {
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": day, "End": (date.fromisoformat(day) + timedelta(days=1)).isoformat()},
                "Total": {},
                "Groups": groups,
                "Estimated": estimated,
            }
            for day, groups in days.items()
        ]
    }
    if token:
        response["NextPageToken"] = token
    return response


def stub_window(client, start: str, end: str, account_service: dict, team: dict) -> None:
    client.stubber.add_response("get_cost_and_usage", account_service, params(start, end, ACCOUNT_SERVICE))
    client.stubber.add_response("get_cost_and_usage", team, params(start, end, TEAM))


def stored(account, view: str | None = None) -> list[tuple]:
    rows = CostExplorerRecord.objects.filter(account=account)
    if view:
        rows = rows.filter(view=view)
    return list(
        rows.order_by("view", "day", "linked_account_id", "service_name", "tag_value").values_list(
            "view", "day", "linked_account_id", "service_name", "tag_key", "tag_value", "unblended_cost",
            "amortized_cost", "net_amortized_cost", "usage_quantity", "currency", "estimated",
        )
    )  # fmt: skip


SPEND = {
    "account_service": page(
        {
            "2025-06-01": [
                group(["111111111111", "Amazon SageMaker"], "12.5000000001", "10.25"),
                group(["222222222222", "Amazon Elastic Compute Cloud - Compute"], "7.1"),
            ],
            "2025-06-02": [group(["111111111111", "Amazon SageMaker"], "3.3")],
        }
    ),
    "team": page(
        {
            "2025-06-01": [
                group(["team$ml", "Amazon SageMaker"], "12.5000000001", "10.25"),
                group(["team$", "Amazon Elastic Compute Cloud - Compute"], "7.1"),
            ],
            "2025-06-02": [group(["team$ml", "Amazon SageMaker"], "3.3")],
        }
    ),
}
