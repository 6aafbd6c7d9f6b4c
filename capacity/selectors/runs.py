"""Capacity reads of collection runs: the latest run of each kind per account and region."""

from __future__ import annotations

from capacity.models import CollectionRun
from finops.models import CloudAccount, IngestionRun


def collection_runs_latest() -> list[CollectionRun]:
    """The latest collection run of each kind per account and region, each with `last_success` (a run or None)."""
    order = ("kind", "account_id", "region", "-started_at", "-id")
    distinct = ("kind", "account_id", "region")
    runs = list(CollectionRun.objects.select_related("account").order_by(*order).distinct(*distinct))
    succeeded = CollectionRun.objects.filter(status=CollectionRun.Status.SUCCEEDED).order_by(*order).distinct(*distinct)
    successes = {(run.kind, run.account_id, run.region): run for run in succeeded}
    for run in runs:
        run.last_success = successes.get((run.kind, run.account_id, run.region))
    kinds = list(CollectionRun.Kind.values)
    return sorted(
        runs, key=lambda run: (run.account.account_id if run.account else "", run.region, kinds.index(run.kind))
    )


def inputs_settled(*, since) -> tuple[bool, str]:
    """Whether what derived computations read has landed since `since`: every inventory-enabled account's capacity
    collection (its reservations run, the last of it) finished after `since`, and no billing ingestion run is queued
    or running. Returns (settled, what is still awaited)."""
    waiting = []
    busy = IngestionRun.objects.filter(status__in=[IngestionRun.Status.QUEUED, IngestionRun.Status.RUNNING]).count()
    if busy:
        waiting.append(f"{busy} billing ingestion run(s)")
    accounts = set(CloudAccount.objects.filter(inventory_enabled=True).values_list("pk", flat=True))
    collected = set(
        CollectionRun.objects.filter(
            kind=CollectionRun.Kind.RESERVATIONS, started_at__gte=since, finished_at__isnull=False
        ).values_list("account_id", flat=True)
    )
    if accounts - collected:
        waiting.append(f"capacity collection of {len(accounts - collected)} account(s)")
    return not waiting, ", ".join(waiting)
