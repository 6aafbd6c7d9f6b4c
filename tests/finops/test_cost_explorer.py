from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from finops.aws.cost_explorer import RequestCount, cost_and_usage
from finops.models import CostExplorerRecord, IngestionRun
from finops.selectors.cost_explorer import cost_explorer_view_total
from finops.services.cost_explorer import cost_explorer_ingest, cost_explorer_result_parse
from tests.factories import CloudAccountFactory

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
METRICS = ["UnblendedCost", "AmortizedCost", "NetAmortizedCost", "UsageQuantity"]
ACCOUNT_SERVICE = [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "SERVICE"}]
TEAM = [{"Type": "TAG", "Key": "team"}, {"Type": "DIMENSION", "Key": "SERVICE"}]


def no_sleep(seconds: float) -> None:
    pass


@pytest.fixture
def ce_client():
    client = boto3.client("ce", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    with Stubber(client) as stubber:
        client.stubber = stubber
        yield client
        stubber.assert_no_pending_responses()


@pytest.fixture(autouse=True)
def team_tag_only(settings):
    settings.COSTPLANE_ALLOCATION_TAG_KEYS = ["team"]
    settings.COSTPLANE_BACKFILL_MONTHS = 13
    settings.COSTPLANE_REVISION_DAYS = 3


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


@pytest.mark.django_db
def test_it_leaves_the_same_rows_when_the_same_window_comes_twice(ce_client):
    account = CloudAccountFactory()
    stub_window(ce_client, "2025-06-01", "2025-06-03", SPEND["account_service"], SPEND["team"])
    stub_window(ce_client, "2025-06-01", "2025-06-03", SPEND["account_service"], SPEND["team"])

    cost_explorer_ingest(account=account, start=date(2025, 6, 1), end=date(2025, 6, 3), client=ce_client)
    first = stored(account)
    first_ids = set(CostExplorerRecord.objects.values_list("pk", flat=True))
    again = cost_explorer_ingest(account=account, start=date(2025, 6, 1), end=date(2025, 6, 3), client=ce_client)

    assert stored(account) == first
    assert set(CostExplorerRecord.objects.values_list("pk", flat=True)) == first_ids
    assert (again.rows, again.rows_inserted, again.rows_deleted) == (6, 0, 0)


@pytest.mark.django_db
def test_it_changes_exactly_the_revised_rows(ce_client):
    account = CloudAccountFactory()
    stub_window(ce_client, "2025-06-01", "2025-06-03", SPEND["account_service"], SPEND["team"])
    revised = page(
        {
            "2025-06-01": [
                group(["111111111111", "Amazon SageMaker"], "12.5000000001", "10.25"),
                group(["222222222222", "Amazon Elastic Compute Cloud - Compute"], "7.1"),
            ],
            # AWS revised one cell and dropped none.
            "2025-06-02": [group(["111111111111", "Amazon SageMaker"], "3.45")],
        }
    )
    stub_window(ce_client, "2025-06-01", "2025-06-03", revised, SPEND["team"])
    cost_explorer_ingest(account=account, start=date(2025, 6, 1), end=date(2025, 6, 3), client=ce_client)
    before = {row.pk: row for row in CostExplorerRecord.objects.all()}

    run = cost_explorer_ingest(account=account, start=date(2025, 6, 1), end=date(2025, 6, 3), client=ce_client)

    after = {row.pk: row for row in CostExplorerRecord.objects.all()}
    gone = [before[pk] for pk in before.keys() - after.keys()]
    new = [after[pk] for pk in after.keys() - before.keys()]
    assert [(row.view, row.day, row.unblended_cost) for row in gone] == [
        ("account_service", date(2025, 6, 2), Decimal("3.3"))
    ]
    assert [(row.view, row.day, row.unblended_cost) for row in new] == [
        ("account_service", date(2025, 6, 2), Decimal("3.45"))
    ]
    assert (run.rows, run.rows_inserted, run.rows_deleted) == (6, 1, 1)


@pytest.mark.django_db
def test_it_refetches_only_its_window_and_keeps_older_days(ce_client):
    account = CloudAccountFactory()
    stub_window(ce_client, "2025-06-01", "2025-06-03", SPEND["account_service"], SPEND["team"])
    stub_window(
        ce_client,
        "2025-06-02",
        "2025-06-03",
        page({"2025-06-02": []}),
        page({"2025-06-02": [group(["team$ml", "Amazon SageMaker"], "0", "0", "0")]}),
    )
    cost_explorer_ingest(account=account, start=date(2025, 6, 1), end=date(2025, 6, 3), client=ce_client)

    cost_explorer_ingest(account=account, start=date(2025, 6, 2), end=date(2025, 6, 3), client=ce_client)

    # June 2 has no spend any more (the all-zero group is skipped); June 1, outside the window, is untouched.
    assert {(row[0], row[1]) for row in stored(account)} == {
        ("account_service", date(2025, 6, 1)),
        ("tag:team", date(2025, 6, 1)),
    }
    assert len(stored(account)) == 4


@pytest.mark.django_db
def test_it_keeps_stored_rows_and_fails_the_run_on_an_aws_error(ce_client):
    account = CloudAccountFactory()
    stub_window(ce_client, "2025-06-01", "2025-06-03", SPEND["account_service"], SPEND["team"])
    cost_explorer_ingest(account=account, start=date(2025, 6, 1), end=date(2025, 6, 3), client=ce_client)
    before = stored(account)
    ce_client.stubber.add_response(
        "get_cost_and_usage", page({"2025-06-01": []}), params("2025-06-01", "2025-06-03", ACCOUNT_SERVICE)
    )
    ce_client.stubber.add_client_error(
        "get_cost_and_usage",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: ce:GetCostAndUsage",
        http_status_code=400,
        expected_params=params("2025-06-01", "2025-06-03", TEAM),
    )

    with pytest.raises(ClientError):
        cost_explorer_ingest(account=account, start=date(2025, 6, 1), end=date(2025, 6, 3), client=ce_client)

    run = IngestionRun.objects.filter(account=account).first()
    assert stored(account) == before
    assert run.status == IngestionRun.Status.FAILED
    assert "AccessDeniedException" in run.error
    assert "not authorized to perform: ce:GetCostAndUsage" in run.error
    assert run.requests == 1
    assert run.finished_at is not None


@pytest.mark.django_db
def test_it_fails_clearly_when_a_result_lacks_a_metric(ce_client):
    account = CloudAccountFactory()
    incomplete = page({"2025-06-01": [group(["111111111111", "AWS Lambda"], "1")]})
    del incomplete["ResultsByTime"][0]["Groups"][0]["Metrics"]["NetAmortizedCost"]
    ce_client.stubber.add_response(
        "get_cost_and_usage", incomplete, params("2025-06-01", "2025-06-02", ACCOUNT_SERVICE)
    )

    with pytest.raises(ValueError, match="NetAmortizedCost"):
        cost_explorer_ingest(account=account, start=date(2025, 6, 1), end=date(2025, 6, 2), client=ce_client)

    assert IngestionRun.objects.get(account=account).status == IngestionRun.Status.FAILED
    assert not CostExplorerRecord.objects.exists()


@pytest.mark.django_db
def test_it_stores_views_separately_each_a_complete_picture(ce_client):
    account = CloudAccountFactory()
    stub_window(ce_client, "2025-06-01", "2025-06-03", SPEND["account_service"], SPEND["team"])

    cost_explorer_ingest(account=account, start=date(2025, 6, 1), end=date(2025, 6, 3), client=ce_client)

    window = {"account": account, "start": date(2025, 6, 1), "end": date(2025, 6, 3)}
    by_account = cost_explorer_view_total(view="account_service", **window)
    by_team = cost_explorer_view_total(view="tag:team", **window)
    assert by_account == by_team == Decimal("22.9000000001")
    assert cost_explorer_view_total(view="tag:team", metric="amortized_cost", **window) == Decimal("20.65")
    assert {row[0] for row in stored(account)} == {"account_service", "tag:team"}
    assert [row[2] for row in stored(account, "tag:team")] == ["", "", ""]
    assert sorted(row[5] for row in stored(account, "tag:team")) == ["", "ml", "ml"]


def test_it_refuses_more_than_two_group_by_keys(ce_client):
    with pytest.raises(ValueError, match="at most 2"):
        next(
            cost_and_usage(
                ce_client,
                start=date(2025, 6, 1),
                end=date(2025, 6, 2),
                group_by=[*ACCOUNT_SERVICE, {"Type": "TAG", "Key": "team"}],
            )
        )


@pytest.mark.django_db
def test_it_rejects_a_backwards_window_without_calling_aws(ce_client):
    account = CloudAccountFactory()

    with pytest.raises(ValueError, match="backwards"):
        cost_explorer_ingest(account=account, start=date(2025, 6, 3), end=date(2025, 6, 1), client=ce_client)

    assert not IngestionRun.objects.exists()


@pytest.mark.django_db
def test_it_completes_a_run_queued_by_the_ingestion_service(ce_client):
    account = CloudAccountFactory()
    queued = IngestionRun.objects.create(account=account, source=IngestionRun.Source.COST_EXPLORER)
    stub_window(ce_client, "2025-06-01", "2025-06-03", SPEND["account_service"], SPEND["team"])

    cost_explorer_ingest(account=account, start=date(2025, 6, 1), end=date(2025, 6, 3), run=queued, client=ce_client)

    queued.refresh_from_db()
    assert IngestionRun.objects.count() == 1
    assert (queued.status, queued.window_start, queued.rows, queued.requests) == (
        IngestionRun.Status.SUCCEEDED,
        date(2025, 6, 1),
        6,
        2,
    )
    assert set(CostExplorerRecord.objects.values_list("run", flat=True)) == {queued.pk}


@pytest.mark.django_db
def test_it_replaces_estimated_days_when_aws_finalises_them(ce_client):
    account = CloudAccountFactory()
    stub_window(
        ce_client,
        "2025-06-01",
        "2025-06-02",
        page({"2025-06-01": [group(["111111111111", "AWS Lambda"], "1")]}, estimated=True),
        page({"2025-06-01": [group(["team$ml", "AWS Lambda"], "1")]}, estimated=True),
    )
    stub_window(
        ce_client,
        "2025-06-01",
        "2025-06-02",
        page({"2025-06-01": [group(["111111111111", "AWS Lambda"], "1")]}),
        page({"2025-06-01": [group(["team$ml", "AWS Lambda"], "1")]}, estimated=True),
    )
    cost_explorer_ingest(account=account, start=date(2025, 6, 1), end=date(2025, 6, 2), client=ce_client)
    assert [row[-1] for row in stored(account)] == [True, True]

    run = cost_explorer_ingest(account=account, start=date(2025, 6, 1), end=date(2025, 6, 2), client=ce_client)

    assert [(row[0], row[-1]) for row in stored(account)] == [("account_service", False), ("tag:team", True)]
    assert (run.rows_inserted, run.rows_deleted) == (1, 1)
