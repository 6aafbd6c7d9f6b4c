"""Cost Explorer ingestion: paging, throttling, the documented example, the backfill and the revision window."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from finops.aws.cost_explorer import RequestCount, cost_and_usage
from finops.models import CostExplorerRecord, IngestionRun
from finops.services.cost_explorer import cost_explorer_ingest, cost_explorer_result_parse
from tests.factories import CloudAccountFactory
from tests.finops.cost_explorer.support import (
    ACCOUNT_SERVICE,
    DATA,
    SPEND,
    TEAM,
    group,
    page,
    params,
    stored,
    stub_window,
)


def test_it_follows_next_page_token_and_counts_every_page(ce_client):
    stubber = ce_client.stubber
    stubber.add_response(
        "get_cost_and_usage",
        page({"2025-06-01": [group(["111111111111", "AWS Lambda"], "1")]}, token="p2"),
        params("2025-06-01", "2025-06-03", ACCOUNT_SERVICE),
    )
    # AWS may split one day's groups across pages: the day comes out once, with all its groups.
    stubber.add_response(
        "get_cost_and_usage",
        page(
            {
                "2025-06-01": [group(["111111111111", "Amazon S3"], "2")],
                "2025-06-02": [group(["111111111111", "AWS Lambda"], "3")],
            },
            token="p3",
        ),
        params("2025-06-01", "2025-06-03", ACCOUNT_SERVICE, token="p2"),
    )
    stubber.add_response(
        "get_cost_and_usage",
        page({"2025-06-02": [group(["111111111111", "Amazon S3"], "4")]}),
        params("2025-06-01", "2025-06-03", ACCOUNT_SERVICE, token="p3"),
    )
    count = RequestCount()

    results = list(
        cost_and_usage(ce_client, start=date(2025, 6, 1), end=date(2025, 6, 3), group_by=ACCOUNT_SERVICE, count=count)
    )

    assert [result["TimePeriod"]["Start"] for result in results] == ["2025-06-01", "2025-06-02"]
    assert [[g["Keys"][1] for g in result["Groups"]] for result in results] == [
        ["AWS Lambda", "Amazon S3"],
        ["AWS Lambda", "Amazon S3"],
    ]
    assert count.requests == 3


@pytest.mark.django_db
def test_it_records_every_page_of_every_view_as_a_request(ce_client):
    account = CloudAccountFactory()
    stubber = ce_client.stubber
    stubber.add_response(
        "get_cost_and_usage",
        page({"2025-06-01": [group(["111111111111", "AWS Lambda"], "1")]}, token="next"),
        params("2025-06-01", "2025-06-02", ACCOUNT_SERVICE),
    )
    stubber.add_response(
        "get_cost_and_usage",
        page({"2025-06-01": [group(["111111111111", "Amazon S3"], "2")]}),
        params("2025-06-01", "2025-06-02", ACCOUNT_SERVICE, token="next"),
    )
    stubber.add_response(
        "get_cost_and_usage", page({"2025-06-01": [group(["team$ml", "AWS Lambda"], "3")]}), params(
            "2025-06-01", "2025-06-02", TEAM
        )
    )  # fmt: skip

    run = cost_explorer_ingest(account=account, start=date(2025, 6, 1), end=date(2025, 6, 2), client=ce_client)

    assert run.status == IngestionRun.Status.SUCCEEDED
    assert run.requests == 3
    assert run.rows == 3
    assert [row[3] for row in stored(account, "account_service")] == ["AWS Lambda", "Amazon S3"]


@pytest.mark.django_db
def test_it_rides_out_throttling_and_completes(ce_client):
    account = CloudAccountFactory()
    sleeps: list[float] = []
    for _ in range(3):
        ce_client.stubber.add_client_error(
            "get_cost_and_usage",
            service_error_code="ThrottlingException",
            service_message="Rate exceeded",
            http_status_code=400,
            expected_params=params("2025-06-01", "2025-06-03", ACCOUNT_SERVICE),
        )
    stub_window(ce_client, "2025-06-01", "2025-06-03", SPEND["account_service"], SPEND["team"])

    run = cost_explorer_ingest(
        account=account, start=date(2025, 6, 1), end=date(2025, 6, 3), client=ce_client, sleep=sleeps.append
    )

    run.refresh_from_db()
    assert run.status == IngestionRun.Status.SUCCEEDED
    assert len(sleeps) == 3
    assert run.requests == 2
    assert run.detail["throttled"] == 3
    assert len(stored(account)) == 6


def test_it_parses_the_documented_aws_cli_example_exactly():
    example = json.loads((DATA / "aws-api-examples" / "ce__get-cost-and-usage__output1.json").read_text())

    cells = [
        cell
        for result in example["ResultsByTime"]
        for cell in cost_explorer_result_parse(result=result, group_by=example["GroupDefinitions"])
    ]

    assert [(cell.service_name, cell.tag_key, cell.tag_value) for cell in cells] == [
        ("Amazon Simple Storage Service", "Environment", ""),
        ("Amazon Simple Storage Service", "Environment", "Dev"),
    ]
    assert cells[0].day == date(2017, 9, 1)
    assert cells[0].metrics["UnblendedCost"] == (Decimal("40.3543773134"), "USD")
    assert cells[0].metrics["UsageQuantity"] == (Decimal("9312771.098461578"), "N/A")
    assert cells[1].metrics["BlendedCost"] == (Decimal("0.2682364644"), "USD")


@pytest.mark.django_db
def test_it_stores_the_documented_example_untagged_group_as_an_empty_tag_value(ce_client, settings):
    settings.COSTPLANE_ALLOCATION_TAG_KEYS = ["Environment"]
    account = CloudAccountFactory()
    example = json.loads((DATA / "aws-api-examples" / "ce__get-cost-and-usage__output1.json").read_text())
    # The CLI example asked for BlendedCost, UnblendedCost, UsageQuantity grouped by (SERVICE, TAG); Costplane
    # asks for its four metrics grouped by (TAG, SERVICE), so AWS would echo the keys in that order and add the
    # amortised metrics. Everything else is the captured response, amounts included.
    environment = [{"Type": "TAG", "Key": "Environment"}, {"Type": "DIMENSION", "Key": "SERVICE"}]
    response = json.loads(json.dumps(example))
    response["GroupDefinitions"] = environment
    for captured in response["ResultsByTime"][0]["Groups"]:
        captured["Keys"].reverse()
        captured["Metrics"].pop("BlendedCost")
        captured["Metrics"]["AmortizedCost"] = captured["Metrics"]["NetAmortizedCost"] = captured["Metrics"][
            "UnblendedCost"
        ]
    ce_client.stubber.add_response(
        "get_cost_and_usage", {"ResultsByTime": []}, params("2017-09-01", "2017-10-01", ACCOUNT_SERVICE)
    )
    ce_client.stubber.add_response("get_cost_and_usage", response, params("2017-09-01", "2017-10-01", environment))

    cost_explorer_ingest(account=account, start=date(2017, 9, 1), end=date(2017, 10, 1), client=ce_client)

    rows = CostExplorerRecord.objects.filter(account=account, view="tag:Environment").order_by("tag_value")
    assert [(row.tag_key, row.tag_value, row.linked_account_id) for row in rows] == [
        ("Environment", "", ""),
        ("Environment", "Dev", ""),
    ]
    assert rows[0].unblended_cost == Decimal("40.3543773134")
    assert rows[0].usage_quantity == Decimal("9312771.098461578")
    assert rows[1].unblended_cost == Decimal("0.2682364644")
    assert rows[1].usage_quantity == Decimal("22403.4395271182")
    assert rows[0].currency == "USD"


@pytest.mark.django_db
def test_it_backfills_thirteen_months_first_then_refetches_the_last_three_days(ce_client):
    account = CloudAccountFactory()
    empty = {"ResultsByTime": []}
    stub_window(ce_client, "2024-05-01", "2025-06-15", empty, empty)
    stub_window(ce_client, "2025-06-12", "2025-06-20", empty, empty)

    first = cost_explorer_ingest(account=account, today=date(2025, 6, 15), client=ce_client)
    second = cost_explorer_ingest(account=account, today=date(2025, 6, 20), client=ce_client)

    assert (first.window_start, first.window_end) == (date(2024, 5, 1), date(2025, 6, 15))
    assert (second.window_start, second.window_end) == (date(2025, 6, 12), date(2025, 6, 20))
    assert first.status == second.status == IngestionRun.Status.SUCCEEDED


@pytest.mark.django_db
def test_it_backfills_again_while_no_run_has_succeeded(ce_client):
    account = CloudAccountFactory()
    IngestionRun.objects.create(
        account=account,
        source=IngestionRun.Source.COST_EXPLORER,
        status=IngestionRun.Status.FAILED,
        window_start=date(2025, 1, 1),
        window_end=date(2025, 6, 1),
    )
    empty = {"ResultsByTime": []}
    stub_window(ce_client, "2023-12-01", "2025-01-31", empty, empty)

    run = cost_explorer_ingest(account=account, today=date(2025, 1, 31), client=ce_client)

    assert (run.window_start, run.window_end) == (date(2023, 12, 1), date(2025, 1, 31))
