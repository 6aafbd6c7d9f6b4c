from __future__ import annotations

from datetime import date
from decimal import Decimal

import botocore.session
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from moto import mock_aws

from sandbox import aws

from .conftest import TODAY, sandbox_client

HISTORY = {"Start": "2024-05-01", "End": TODAY.isoformat()}


def _all_pages(ce, **request) -> list[dict]:
    pages = [ce.get_cost_and_usage(**request)]
    while pages[-1].get("NextPageToken"):
        pages.append(ce.get_cost_and_usage(**request, NextPageToken=pages[-1]["NextPageToken"]))
    return pages


def _per_account_day(pages: list[dict], metric: str) -> dict:
    return {
        (group["Keys"][0], date.fromisoformat(result["TimePeriod"]["Start"])): Decimal(
            group["Metrics"][metric]["Amount"]
        )
        for page in pages
        for result in page["ResultsByTime"]
        for group in result["Groups"]
    }


def test_it_answers_unblended_and_net_amortized_cost_equal_to_the_focus_export(ce, small_focus):
    pages = _all_pages(
        ce,
        TimePeriod=HISTORY,
        Granularity="DAILY",
        Metrics=["UnblendedCost", "NetAmortizedCost"],
        GroupBy=[{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}],
    )
    focus = small_focus.groupby([small_focus["SubAccountId"], small_focus["ChargePeriodStart"].dt.date])
    assert _per_account_day(pages, "UnblendedCost") == {k: Decimal(v) for k, v in focus["BilledCost"].sum().items()}
    assert _per_account_day(pages, "NetAmortizedCost") == {
        k: Decimal(v) for k, v in focus["EffectiveCost"].sum().items()
    }


def test_it_pages_a_thirteen_month_daily_query(ce):
    pages = _all_pages(ce, TimePeriod=HISTORY, Granularity="DAILY", Metrics=["UnblendedCost"])
    assert len(pages) >= 4
    days = [result["TimePeriod"]["Start"] for page in pages for result in page["ResultsByTime"]]
    assert len(days) == len(set(days)) == (TODAY - date(2024, 5, 1)).days
    assert all(page["GroupDefinitions"] == [] for page in pages)


def test_it_groups_by_tag_with_an_empty_value_for_untagged_spend(ce):
    response = ce.get_cost_and_usage(
        TimePeriod={"Start": "2025-05-01", "End": "2025-06-01"},
        Granularity="MONTHLY",
        Metrics=["UnblendedCost"],
        GroupBy=[{"Type": "TAG", "Key": "team"}],
    )
    keys = {group["Keys"][0] for group in response["ResultsByTime"][0]["Groups"]}
    assert {"team$", "team$vision", "team$speech", "team$recsys", "team$platform"} == keys
    assert response["GroupDefinitions"] == [{"Type": "TAG", "Key": "team"}]


def test_it_names_linked_accounts_and_filters_by_account_and_service(ce):
    response = ce.get_cost_and_usage(
        TimePeriod={"Start": "2025-06-01", "End": "2025-06-08"},
        Granularity="DAILY",
        Metrics=["UnblendedCost"],
        GroupBy=[{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "SERVICE"}],
        Filter={
            "And": [
                {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": ["481516234201"]}},
                {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon SageMaker"]}},
            ]
        },
    )
    groups = [group for result in response["ResultsByTime"] for group in result["Groups"]]
    assert groups and {tuple(group["Keys"]) for group in groups} == {("481516234201", "Amazon SageMaker")}
    assert response["DimensionValueAttributes"] == [{"Value": "481516234201", "Attributes": {"description": "ml-prod"}}]


def test_it_marks_the_last_two_days_as_estimated(ce):
    response = ce.get_cost_and_usage(
        TimePeriod={"Start": "2025-06-10", "End": TODAY.isoformat()}, Granularity="DAILY", Metrics=["UnblendedCost"]
    )
    estimated = {result["TimePeriod"]["Start"]: result["Estimated"] for result in response["ResultsByTime"]}
    assert estimated == {
        "2025-06-10": False,
        "2025-06-11": False,
        "2025-06-12": False,
        "2025-06-13": True,
        "2025-06-14": True,
    }


def test_it_answers_zero_before_the_data_starts(ce):
    response = ce.get_cost_and_usage(
        TimePeriod={"Start": "2020-01-01", "End": "2020-03-01"}, Granularity="MONTHLY", Metrics=["UnblendedCost"]
    )
    assert [Decimal(r["Total"]["UnblendedCost"]["Amount"]) for r in response["ResultsByTime"]] == [0, 0]


def test_it_rejects_more_than_two_group_bys(ce):
    with pytest.raises(ClientError) as raised:
        ce.get_cost_and_usage(
            TimePeriod=HISTORY,
            Granularity="MONTHLY",
            Metrics=["UnblendedCost"],
            GroupBy=[{"Type": "DIMENSION", "Key": key} for key in ("SERVICE", "REGION", "USAGE_TYPE")],
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_it_rejects_a_window_that_ends_before_it_starts(ce):
    with pytest.raises(ClientError) as raised:
        ce.get_cost_and_usage(
            TimePeriod={"Start": "2025-06-01", "End": "2025-05-01"}, Granularity="DAILY", Metrics=["UnblendedCost"]
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_it_validates_requests_against_the_service_model_even_without_client_validation(sandbox_env):
    ce = sandbox_client("ce", parameter_validation=False)
    with pytest.raises(ParamValidationError):
        ce.get_cost_and_usage(TimePeriod={"Start": "2025-06-01"}, Granularity="DAILY", Metrics=["UnblendedCost"])


def test_it_rejects_a_malformed_response(sandbox_env, monkeypatch):
    malformed = {"ResultsByTime": [{"TimePeriod": {"Start": 20250601}, "Total": {"UnblendedCost": "12"}}]}
    monkeypatch.setitem(aws.ANSWERS["cost-explorer"], "GetCostAndUsage", lambda request: malformed)
    ce = sandbox_client("ce")
    with pytest.raises(ParamValidationError):
        ce.get_cost_and_usage(TimePeriod=HISTORY, Granularity="DAILY", Metrics=["UnblendedCost"])


def test_it_validates_every_response_it_builds(sandbox_env):
    model = botocore.session.get_session().get_service_model("ce").operation_model("GetCostAndUsage")
    ce = sandbox_client("ce")
    for group_by in ([], [{"Type": "TAG", "Key": "project"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}]):
        response = ce.get_cost_and_usage(
            TimePeriod=HISTORY, Granularity="MONTHLY", Metrics=["UsageQuantity", "AmortizedCost"], GroupBy=group_by
        )
        assert aws.validated_response(model, response) is response
    with pytest.raises(ParamValidationError):
        aws.validated_response(model, {"ResultsByTime": "not a list"})


def test_it_lists_the_organisations_accounts_with_their_fixed_ids(sandbox_env):
    organizations = sandbox_client("organizations")
    pages = list(organizations.get_paginator("list_accounts").paginate())
    assert len(pages) > 1
    ids = [account["Id"] for page in pages for account in page["Accounts"]]
    assert ids == ["481516234200", "481516234201", "481516234202", "481516234203", "481516234204"]
    organization = organizations.describe_organization()["Organization"]
    assert organization["MasterAccountId"] == "481516234200"


def test_it_leaves_other_operations_to_moto(sandbox_env):
    with mock_aws():
        s3 = sandbox_client("s3")
        s3.create_bucket(Bucket="left-to-moto")
        assert [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]] == ["left-to-moto"]
