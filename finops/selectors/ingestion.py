"""Reads about ingestion: freshness and last status per account and source."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Max, Min

from finops.models import CloudAccount, CostExplorerRecord, ExportDailyTotal, IngestionRun


@dataclass(frozen=True)
class AccountFreshness:
    account: CloudAccount
    last_export_day: date | None
    last_cost_explorer_day: date | None
    cost_explorer_estimated_from: date | None
    last_run: IngestionRun | None
    last_success_at: datetime | None


def account_freshness_list() -> list[AccountFreshness]:
    export_days = dict(
        ExportDailyTotal.objects.values("sub_account_id")
        .annotate(last=Max("day"))
        .values_list("sub_account_id", "last")
    )
    explorer_days = dict(
        CostExplorerRecord.objects.filter(view=CostExplorerRecord.ACCOUNT_SERVICE_VIEW)
        .values("linked_account_id")
        .annotate(last=Max("day"))
        .values_list("linked_account_id", "last")
    )
    estimated_from = dict(
        CostExplorerRecord.objects.filter(view=CostExplorerRecord.ACCOUNT_SERVICE_VIEW, estimated=True)
        .values("linked_account_id")
        .annotate(first=Min("day"))
        .values_list("linked_account_id", "first")
    )
    last_runs: dict[int, IngestionRun] = {}
    for run in (
        IngestionRun.objects.filter(account__isnull=False).order_by("account_id", "-created_at").distinct("account_id")
    ):
        last_runs[run.account_id] = run
    successes = dict(
        IngestionRun.objects.filter(status=IngestionRun.Status.SUCCEEDED, account__isnull=False)
        .values("account_id")
        .annotate(last=Max("finished_at"))
        .values_list("account_id", "last")
    )
    return [
        AccountFreshness(
            account=account,
            last_export_day=export_days.get(account.account_id),
            last_cost_explorer_day=explorer_days.get(account.account_id),
            cost_explorer_estimated_from=estimated_from.get(account.account_id),
            last_run=last_runs.get(account.pk),
            last_success_at=successes.get(account.pk),
        )
        for account in CloudAccount.objects.all()
    ]
