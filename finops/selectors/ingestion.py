"""Reads about ingestion: freshness and last status per account and source, and the latest billing file imports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Max, Min, Q, QuerySet

from finops.models import CloudAccount, CostExplorerRecord, ExportDailyTotal, IngestionRun


@dataclass(frozen=True)
class AccountFreshness:
    account: CloudAccount
    last_export_day: date | None
    last_cost_explorer_day: date | None
    cost_explorer_estimated_from: date | None
    last_run: IngestionRun | None
    last_success_at: datetime | None


def account_last_success_list(*, enabled_only: bool = False) -> QuerySet[CloudAccount]:
    """Accounts in account id order, each annotated with `last_success`: when its last successful ingestion run
    finished (None before the first). The one reading of "last successful ingestion" that the Accounts page, the
    stale-ingestion alert and the ingestion-lag metric share, so that they never disagree about an account.

    `enabled_only` keeps the accounts with Cost Explorer or exports switched on: the ones expected to ingest.
    """
    accounts = CloudAccount.objects.all()
    if enabled_only:
        accounts = accounts.filter(Q(cost_explorer_enabled=True) | Q(exports_enabled=True))
    return accounts.annotate(
        last_success=Max("ingestion_runs__finished_at", filter=Q(ingestion_runs__status=IngestionRun.Status.SUCCEEDED))
    ).order_by("account_id")


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
    return [
        AccountFreshness(
            account=account,
            last_export_day=export_days.get(account.account_id),
            last_cost_explorer_day=explorer_days.get(account.account_id),
            cost_explorer_estimated_from=estimated_from.get(account.account_id),
            last_run=last_runs.get(account.pk),
            last_success_at=account.last_success,
        )
        for account in account_last_success_list()
    ]


BILLING_IMPORT_SOURCES = (IngestionRun.Source.EXPORT, IngestionRun.Source.FILE)


def billing_import_run_list(*, limit: int = 10) -> list[IngestionRun]:
    """The latest billing file and export imports, newest first: what the Accounts page shows with each run's
    warnings (columns a file held that its format does not define) and, for a failed run, its error."""
    return list(IngestionRun.objects.filter(source__in=BILLING_IMPORT_SOURCES).order_by("-created_at", "-id")[:limit])
