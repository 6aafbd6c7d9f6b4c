"""Cost Explorer ingestion: the same window twice, revised and estimated days, AWS errors, views kept apart."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from finops.aws.cost_explorer import cost_and_usage
from finops.models import CostExplorerRecord, IngestionRun
from finops.selectors.cost_explorer import cost_explorer_view_total
from finops.services.cost_explorer import cost_explorer_ingest
from tests.factories import CloudAccountFactory
from tests.finops.cost_explorer.support import (
    ACCOUNT_SERVICE,
    SPEND,
    TEAM,
    group,
    page,
    params,
    stored,
    stub_window,
)


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
