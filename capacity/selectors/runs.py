"""Capacity reads of collection runs: the latest run of each kind per account and region."""

from __future__ import annotations

from capacity.models import CollectionRun


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
