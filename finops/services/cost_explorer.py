"""Cost Explorer ingestion: one pull of every query set (view) for one account and window.

Each view is a separate, complete picture of the same spend (ARCHITECTURE.md, "Data flow" 3):
`account_service` groups by linked account and service; `tag:KEY` by that tag and service, one per
COSTPLANE_ALLOCATION_TAG_KEYS entry. They are stored side by side and never added together.

Decisions:
- A group whose four stored metrics are all zero is skipped: it changes no sum, and CE returns many.
- Every page is fetched before anything is written, then all views are replaced in one transaction:
  per view and day window, rows that AWS no longer reports or reports differently are deleted, new or
  changed ones inserted, identical ones kept (a revised window changes exactly the revised rows).
- On any error the run is marked failed with the error (AWS code and message), nothing stored is
  touched, and the exception is re-raised: the Celery task retries the transient ones (network
  timeouts) and lets the others fail loudly rather than report success.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from finops.aws import cost_explorer as ce
from finops.aws.clients import access_denied_text, aws_client
from finops.models import CloudAccount, CostExplorerRecord, IngestionRun
from finops.services.table_statistics import table_statistics_refresh

# Cost Explorer is a global service answered from us-east-1.
CE_REGION = "us-east-1"
# CE metric name → CostExplorerRecord field. Currency comes from the UnblendedCost unit.
METRIC_FIELDS = {
    "UnblendedCost": "unblended_cost",
    "AmortizedCost": "amortized_cost",
    "NetAmortizedCost": "net_amortized_cost",
    "UsageQuantity": "usage_quantity",
}
WRITE_BATCH = 5000

# A stored cell's identity within one account and view, and the values that may be revised.
CellKey = tuple[date, str, str, str]  # day, linked_account_id, service_name, tag_value
CellValues = tuple[Decimal, Decimal, Decimal, Decimal, str, bool]  # four metrics, currency, estimated


@dataclass(frozen=True)
class View:
    name: str
    group_by: list[dict[str, str]]
    tag_key: str = ""


@dataclass
class Cell:
    """One group of one ResultsByTime entry, keys resolved; metrics as {name: (amount, unit)}."""

    day: date
    estimated: bool
    linked_account_id: str = ""
    service_name: str = ""
    tag_key: str = ""
    tag_value: str = ""
    metrics: dict[str, tuple[Decimal, str]] = field(default_factory=dict)


def cost_explorer_views() -> list[View]:
    views = [
        View(
            name=CostExplorerRecord.ACCOUNT_SERVICE_VIEW,
            group_by=[{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "SERVICE"}],
        )
    ]
    for key in dict.fromkeys(settings.COSTPLANE_ALLOCATION_TAG_KEYS):
        views.append(
            View(
                name=f"tag:{key}",
                group_by=[{"Type": "TAG", "Key": key}, {"Type": "DIMENSION", "Key": "SERVICE"}],
                tag_key=key,
            )
        )
    return views


def cost_explorer_result_parse(*, result: dict[str, Any], group_by: list[dict[str, str]]) -> Iterator[Cell]:
    """The groups of one ResultsByTime entry; `group_by` is the request's GroupBy, in the order AWS echoes it.

    A TAG key comes back as `key$value`; `key$` (no value) means untagged and becomes tag_value "".
    Amounts are Decimal of AWS's strings, never floats.
    """
    day = date.fromisoformat(result["TimePeriod"]["Start"])
    estimated = bool(result.get("Estimated", False))
    for group in result.get("Groups", []):
        keys = group["Keys"]
        if len(keys) != len(group_by):
            raise ValueError(f"Cost Explorer group {keys} does not match the GroupBy {group_by}.")
        cell = Cell(day=day, estimated=estimated)
        for definition, key in zip(group_by, keys, strict=True):
            kind, name = definition["Type"], definition["Key"]
            if kind == "TAG":
                prefix = f"{name}$"
                if not key.startswith(prefix):
                    raise ValueError(f"Cost Explorer tag group {key!r} is not of the form {prefix}value.")
                cell.tag_key, cell.tag_value = name, key[len(prefix) :]
            elif (kind, name) == ("DIMENSION", "LINKED_ACCOUNT"):
                cell.linked_account_id = key
            elif (kind, name) == ("DIMENSION", "SERVICE"):
                cell.service_name = key
            else:
                raise ValueError(f"Costplane stores no Cost Explorer grouping {kind} {name}.")
        cell.metrics = {name: (Decimal(value["Amount"]), value["Unit"]) for name, value in group["Metrics"].items()}
        yield cell


def _cell_values(cell: Cell) -> CellValues:
    missing = [name for name in METRIC_FIELDS if name not in cell.metrics]
    if missing:
        raise ValueError(f"Cost Explorer result for {cell.day} lacks the metrics {', '.join(missing)}.")
    amounts = [cell.metrics[name][0] for name in METRIC_FIELDS]
    return (*amounts, cell.metrics["UnblendedCost"][1], cell.estimated)


def _view_fetch(
    *, client: BaseClient, view: View, start: date, end: date, count: ce.RequestCount, sleep: Callable[[float], None]
) -> tuple[dict[CellKey, CellValues], int]:
    """A view's non-zero cells for the window, and how many all-zero groups were skipped."""
    cells: dict[CellKey, CellValues] = {}
    skipped = 0
    results = ce.cost_and_usage(
        client, start=start, end=end, group_by=view.group_by, metrics=tuple(METRIC_FIELDS), count=count, sleep=sleep
    )
    for result in results:
        for cell in cost_explorer_result_parse(result=result, group_by=view.group_by):
            values = _cell_values(cell)
            if not any(values[:4]):
                skipped += 1
                continue
            key = (cell.day, cell.linked_account_id, cell.service_name, cell.tag_value)
            if key in cells:
                raise ValueError(f"Cost Explorer returned the {view.name} cell {key} twice.")
            cells[key] = values
    return cells, skipped


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


@transaction.atomic
def _views_replace(
    *,
    account: CloudAccount,
    run: IngestionRun,
    start: date,
    end: date,
    views: list[View],
    cells_by_view: dict[str, dict[CellKey, CellValues]],
) -> dict[str, dict[str, int]]:
    """Make each view's stored rows in [start, end) equal `cells_by_view`, touching only what changed."""
    # Serialise writers per account: two overlapping runs would otherwise race on the unique cells.
    list(CloudAccount.objects.select_for_update().filter(pk=account.pk).values_list("pk"))
    summary: dict[str, dict[str, int]] = {}
    for view in views:
        cells = cells_by_view[view.name]
        stored = CostExplorerRecord.objects.filter(account=account, view=view.name, day__gte=start, day__lt=end)
        existing: dict[CellKey, tuple[int, CellValues]] = {
            (day, linked, service, tag_value): (pk, (unblended, amortized, net, usage, currency, estimated))
            for pk, day, linked, service, tag_value, unblended, amortized, net, usage, currency, estimated in (
                stored.values_list(
                    "pk", "day", "linked_account_id", "service_name", "tag_value", *METRIC_FIELDS.values(),
                    "currency", "estimated",
                )
            )
        }  # fmt: skip
        stale = [pk for key, (pk, values) in existing.items() if cells.get(key) != values]
        fresh = [key for key, values in cells.items() if key not in existing or existing[key][1] != values]
        for batch in _batches(stale, WRITE_BATCH):
            CostExplorerRecord.objects.filter(pk__in=batch).delete()
        records = (
            CostExplorerRecord(
                account=account,
                view=view.name,
                day=key[0],
                linked_account_id=key[1],
                service_name=key[2],
                tag_key=view.tag_key,
                tag_value=key[3],
                unblended_cost=cells[key][0],
                amortized_cost=cells[key][1],
                net_amortized_cost=cells[key][2],
                usage_quantity=cells[key][3],
                currency=cells[key][4],
                estimated=cells[key][5],
                run=run,
            )
            for key in fresh
        )
        for batch in _batches(list(records), WRITE_BATCH):
            CostExplorerRecord.objects.bulk_create(batch)
        summary[view.name] = {"rows": len(cells), "inserted": len(fresh), "deleted": len(stale)}
    return summary


def _month_start(day: date, *, months_back: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months_back
    return date(month_index // 12, month_index % 12 + 1, 1)


def cost_explorer_window(
    *, account: CloudAccount, today: date, start: date | None = None, end: date | None = None
) -> tuple[date, date]:
    """The [start, end) to fetch: a backfill the first time, then the last window's tail (AWS revises it) to today.

    Only complete UTC days: the end is today, exclusive. Explicit start or end win.
    """
    if start is None:
        last_end = IngestionRun.objects.filter(
            account=account, source=IngestionRun.Source.COST_EXPLORER, status=IngestionRun.Status.SUCCEEDED
        ).aggregate(last_end=Max("window_end"))["last_end"]
        if last_end is None:
            start = _month_start(today, months_back=settings.COSTPLANE_BACKFILL_MONTHS)
        else:
            start = last_end - timedelta(days=settings.COSTPLANE_REVISION_DAYS)
    end = end if end is not None else today
    if start > end:
        raise ValueError(f"The Cost Explorer window runs backwards: {start} to {end}.")
    return start, end


def _error_text(error: Exception) -> str:
    # str(ClientError) already reads "An error occurred (Code) when calling ...: message"; a denial names its permission
    # instead.
    if denied := access_denied_text(error, service="ce"):
        return denied
    return str(error) if isinstance(error, ClientError) else f"{type(error).__name__}: {error}"


def _run_fail(run: IngestionRun, *, error: Exception, count: ce.RequestCount) -> None:
    run.status = IngestionRun.Status.FAILED
    run.error = _error_text(error)
    run.requests = count.requests
    run.detail = {"throttled": count.throttled}
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "requests", "detail", "finished_at"])


def cost_explorer_ingest(
    *,
    account: CloudAccount,
    start: date | None = None,
    end: date | None = None,
    today: date | None = None,
    run: IngestionRun | None = None,
    client: BaseClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> IngestionRun:
    """Fetch every view for the account's window and replace what was stored for it; returns the run.

    `run` is a run already recorded (queued through the ingestion service); without it one is created.
    Raises (after recording the failed run) on any error; see the module docstring.
    """
    today = today or timezone.now().date()
    count = ce.RequestCount()
    try:
        start, end = cost_explorer_window(account=account, today=today, start=start, end=end)
    except ValueError as error:
        if run is not None:
            _run_fail(run, error=error, count=count)
        raise
    run = run or IngestionRun(account=account, source=IngestionRun.Source.COST_EXPLORER)
    run.status = IngestionRun.Status.RUNNING
    run.window_start, run.window_end = start, end
    run.started_at = timezone.now()
    run.save()
    views = cost_explorer_views()
    try:
        cells_by_view: dict[str, dict[CellKey, CellValues]] = {view.name: {} for view in views}
        skipped = 0
        if start < end:
            client = client or aws_client("ce", account=account, region=CE_REGION)
            for view in views:
                cells_by_view[view.name], view_skipped = _view_fetch(
                    client=client, view=view, start=start, end=end, count=count, sleep=sleep
                )
                skipped += view_skipped
        summary = _views_replace(
            account=account, run=run, start=start, end=end, views=views, cells_by_view=cells_by_view
        )
        table_statistics_refresh(tables=[CostExplorerRecord])
    except Exception as error:
        _run_fail(run, error=error, count=count)
        raise
    run.status = IngestionRun.Status.SUCCEEDED
    run.rows = sum(view["rows"] for view in summary.values())
    run.rows_inserted = sum(view["inserted"] for view in summary.values())
    run.rows_deleted = sum(view["deleted"] for view in summary.values())
    run.requests = count.requests
    run.detail = {"views": summary, "throttled": count.throttled, "zero_groups_skipped": skipped}
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "rows", "rows_inserted", "rows_deleted", "requests", "detail", "finished_at"])
    return run
